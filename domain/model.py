"""The appointment aggregate: plain, immutable Python. Every change returns the new state
together with the event that describes it; persisting both is the unit of work's job."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import InvalidAppointment
from domain.events import EVENT_FOR_STATUS, AppointmentEvent, EventContext
from domain.rules import occupied_cells
from domain.status import AppointmentStatus, ensure_transition


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    patient_id: str
    doctor_id: str
    start: datetime  # UTC instant
    duration_minutes: int
    timezone: str  # the clinic's IANA zone, for days and display
    status: AppointmentStatus
    version: int  # the seq of the last event applied
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    notes: str | None = None
    hold_id: str | None = None
    invoice_id: str | None = None
    booking_workflow_id: str | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)

    @property
    def cells(self) -> list[datetime]:
        return occupied_cells(self.start, self.duration_minutes)


@dataclass(frozen=True, slots=True)
class Change:
    """A state change ready to commit: the new state, its event, and the version the
    state must still have in the store (None when the appointment is new)."""

    state: Appointment
    event: AppointmentEvent
    expected_version: int | None


# Fields a transition may set besides its status. ``id`` and ``created_at`` come from the
# first event only, ``version`` from the event's seq, ``status`` from the checked target.
_CHANGEABLE = {f.name for f in dataclasses.fields(Appointment)} - {
    "id",
    "created_at",
    "updated_at",
    "version",
    "status",
}


def request(
    *,
    appointment_id: str,
    event_id: str,
    patient_id: str,
    doctor_id: str,
    start: datetime,
    duration_minutes: int,
    timezone: str,
    reason: str | None,
    hold_id: str | None,
    now: datetime,
    context: EventContext,
) -> Change:
    """A new appointment, PENDING while its booking saga runs."""
    state = Appointment(
        id=appointment_id,
        patient_id=patient_id,
        doctor_id=doctor_id,
        start=start,
        duration_minutes=duration_minutes,
        timezone=timezone,
        status=AppointmentStatus.PENDING,
        version=1,
        created_at=now,
        updated_at=now,
        reason=reason,
        hold_id=hold_id,
        booking_workflow_id=context.workflow_id,
    )
    after = {k: v for k, v in dataclasses.asdict(state).items() if k != "version"}
    event = AppointmentEvent(
        event_id=event_id,
        appointment_id=appointment_id,
        seq=1,
        type=EVENT_FOR_STATUS[AppointmentStatus.PENDING],
        occurred_at=now,
        context=context,
        after=after,
    )
    return Change(state=state, event=event, expected_version=None)


def transition(
    appointment: Appointment,
    target: AppointmentStatus,
    *,
    event_id: str,
    now: datetime,
    context: EventContext,
    **fields: Any,
) -> Change:
    """Move the appointment to ``target`` (raising IllegalTransition if the status machine
    forbids it), setting any extra ``fields`` in the same change."""
    ensure_transition(appointment.status, target)
    refused = set(fields) - _CHANGEABLE
    if refused:
        raise InvalidAppointment(f"a transition cannot set {sorted(refused)}")
    after: dict[str, Any] = {"status": target, **fields, "updated_at": now}
    before = {key: getattr(appointment, key) for key in after}
    seq = appointment.version + 1
    state = dataclasses.replace(appointment, **after, version=seq)
    event = AppointmentEvent(
        event_id=event_id,
        appointment_id=appointment.id,
        seq=seq,
        type=EVENT_FOR_STATUS[target],
        occurred_at=now,
        context=context,
        before=before,
        after=after,
    )
    return Change(state=state, event=event, expected_version=appointment.version)


def replay(events: Iterable[AppointmentEvent]) -> Appointment:
    """Rebuild an appointment from its events alone (the event-sourced audit trail)."""
    values: dict[str, Any] = {}
    version = 0
    for event in sorted(events, key=lambda e: e.seq):
        if event.seq != version + 1:
            raise ValueError(
                f"event log of {event.appointment_id} has a gap before seq {event.seq}"
            )
        values.update(event.after)
        version = event.seq
    if not values:
        raise ValueError("no events to replay")
    values["status"] = AppointmentStatus(values["status"])
    return Appointment(**values, version=version)
