"""Real changes made by the real domain functions, for the contract and relay tests: the
events on the topic are exactly what the service would produce."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.events import EventContext, EventType, event_id_for
from domain.model import (
    Appointment,
    Change,
    edit,
    enter_in_error,
    record_invoice,
    record_no_show_fee_voided,
    remind,
    request,
    reschedule,
    reverse_no_show,
    transition,
)
from domain.status import AppointmentStatus

S = AppointmentStatus
T0 = datetime(2030, 1, 1, 8, 0, 0, 123000, tzinfo=UTC)  # milliseconds, as the service cuts
START = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)


class Lifecycle:
    """One appointment going through changes; ``history`` holds every change so far. Each
    has a doctor of its own, so any number of them can be stored without overlapping."""

    def __init__(
        self, appointment_id: str | None = None, *, start: datetime = START, since: datetime = T0
    ) -> None:
        self.id = appointment_id or str(uuid.uuid4())
        self._since = since  # the first event's time; each next one a second later
        self._tick = 0
        self.history: list[Change] = []
        self._add(
            request(
                appointment_id=self.id,
                event_id=self._event_id("requested"),
                patient_id="pat-anna-schmidt",
                doctor_id=f"doc-{self.id[:8]}",
                start=start,
                duration_minutes=30,
                timezone="Europe/Berlin",
                reason="Persistent cough",
                hold_id="hold-1",
                now=self._now(),
                context=EventContext(actor="patient:pat-anna-schmidt", workflow_id="booking-k"),
                no_show_fee_cents=2500,
            )
        )

    @property
    def state(self) -> Appointment:
        return self.history[-1].state

    def to(self, target: AppointmentStatus, **fields: object) -> Lifecycle:
        return self._add(
            transition(
                self.state,
                target,
                event_id=self._event_id(target.value),
                now=self._now(),
                context=EventContext(actor="staff:frontdesk-1", reason=target.value),
                **fields,
            )
        )

    def moved(self, days: int = 1) -> Lifecycle:
        return self._add(
            reschedule(
                self.state,
                start=self.state.start + timedelta(days=days),
                duration_minutes=20,
                hold_id="hold-2",
                invoice_id="inv-2",
                event_id=self._event_id("rescheduled"),
                now=self._now(),
                context=EventContext(actor="patient:pat-anna-schmidt", workflow_id="reschedule-k"),
            )
        )

    def edited(self, notes: str = "bring the x-ray") -> Lifecycle:
        return self._add(
            edit(
                self.state,
                event_id=self._event_id("edited"),
                now=self._now(),
                context=EventContext(actor="staff:frontdesk-1"),
                notes=notes,
            )
        )

    def invoiced(self, invoice_id: str = "inv-late") -> Lifecycle:
        """The late invoice of a booking SCHEDULED while Billing was unreachable."""
        return self._add(
            record_invoice(
                self.state,
                invoice_id=invoice_id,
                event_id=self._event_id("invoiced"),
                now=self._now(),
                context=EventContext(actor="patient:pat-anna-schmidt", workflow_id="booking-k"),
            )
        )

    def reminded(self, offset_minutes: int = 1440) -> Lifecycle:
        """The journey's reminder, with the details the notification needs."""
        state = self.state
        token = f"tok-{self.id[:8]}-{offset_minutes}"
        return self._add(
            remind(
                state,
                offset_minutes=offset_minutes,
                event_id=self._event_id(f"reminder-{offset_minutes}"),
                now=self._now(),
                context=EventContext(actor="system:journey", workflow_id=f"journey-{self.id}"),
                details={
                    "offset_minutes": offset_minutes,
                    "start_local": state.start.astimezone(ZoneInfo(state.timezone)).isoformat(),
                    "timezone": state.timezone,
                    "doctor_name": "Dr. Noah Fischer",
                    "links": {
                        "confirm": f"http://127.0.0.1:8000/a/{token}-confirm",
                        "cancel": f"http://127.0.0.1:8000/a/{token}-cancel",
                    },
                },
            )
        )

    def reversed(self, target: AppointmentStatus = S.CHECKED_IN) -> Lifecycle:
        """Staff reverse a no-show: the patient did come."""
        return self._add(
            reverse_no_show(
                self.state,
                target,
                event_id=self._event_id("no-show-reversed"),
                now=self._now(),
                context=EventContext(actor="staff:frontdesk-1", reason="the patient did come"),
            )
        )

    def fee_voided(self) -> Lifecycle:
        """The reversed no-show's fee, voided at Billing."""
        invoice_id = self.state.no_show_invoice_id
        assert invoice_id is not None, "a no-show fee to void"
        return self._add(
            record_no_show_fee_voided(
                self.state,
                invoice_id=invoice_id,
                event_id=self._event_id("no-show-fee-voided"),
                now=self._now(),
                context=EventContext(actor="staff:frontdesk-1", workflow_id="reversal-k"),
            )
        )

    def entered_in_error(self) -> Lifecycle:
        return self._add(
            enter_in_error(
                self.state,
                event_id=self._event_id("entered-in-error"),
                now=self._now(),
                context=EventContext(actor="admin:root"),
            )
        )

    def _add(self, change: Change) -> Lifecycle:
        self.history.append(change)
        return self

    def _now(self) -> datetime:
        self._tick += 1
        return self._since + timedelta(seconds=self._tick)

    def _event_id(self, tag: str) -> str:
        return event_id_for(f"{self.id}/{len(self.history) + 1}/{tag}")


def every_event_type() -> list[Change]:
    """Changes covering every EventType, each made by the domain function that makes it."""
    full = (
        Lifecycle()
        .to(S.SCHEDULED, invoice_id="inv-1")
        .reminded(1440)
        .edited()
        .moved()
        .to(S.CONFIRMED)
        .reminded(1440)  # the move cleared the reminders: the new time gets its own
        .to(S.CHECKED_IN)
        .to(S.COMPLETED)
        .entered_in_error()
    )
    failed = Lifecycle().to(S.FAILED)
    cancelled = Lifecycle().to(S.SCHEDULED).to(S.CANCELLED)
    invoiced_late = Lifecycle().to(S.SCHEDULED).invoiced().to(S.CONFIRMED)
    # A no-show needs "now" past the start: this one started before the clock's T0.
    no_show = Lifecycle(start=T0 - timedelta(hours=1)).to(S.SCHEDULED).to(S.NO_SHOW)
    reversed_no_show = (
        Lifecycle(start=T0 - timedelta(hours=1))
        .to(S.SCHEDULED)
        .to(S.NO_SHOW, no_show_invoice_id="inv-no-show")
        .reversed(S.CHECKED_IN)
        .fee_voided()
        .to(S.COMPLETED)
    )
    lives = (full, failed, cancelled, invoiced_late, no_show, reversed_no_show)
    changes = [c for life in lives for c in life.history]
    assert {c.event.type for c in changes} == set(EventType)
    return changes


def edits(
    count: int, appointment_id: str | None = None, *, since: datetime = T0
) -> Iterator[Change]:
    """``count`` changes of one appointment: requested, scheduled, then edits."""
    life = Lifecycle(appointment_id, since=since)
    if count > 1:
        life.to(S.SCHEDULED)
    while len(life.history) < count:
        life.edited(notes=f"note {len(life.history)}")
    yield from life.history[:count]
