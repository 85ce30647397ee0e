"""The appointment aggregate: plain, immutable Python. Every change returns the new state
together with the event that describes it; persisting both is the unit of work's job."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from domain.errors import (
    AppointmentStarted,
    IllegalTransition,
    InvalidAppointment,
    NoShowBeforeStart,
    NoShowReversalClosed,
)
from domain.events import EVENT_FOR_STATUS, AppointmentEvent, EventContext, EventType
from domain.policy import CancellationPolicy
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
    # The late-change policy agreed at booking (domain.policy.CancellationPolicy). Stored
    # appointments from before reschedules counted read False.
    cancellation_free_hours: int = 24
    cancellation_fee_cents: int = 0
    late_reschedule_counts: bool = False
    # The invoice of the last late-change fee a reschedule charged, if one did.
    fee_invoice_id: str | None = None
    # The journey (domain/journey.py): the offsets of the reminders sent for the current
    # start (a reschedule clears them), the no-show fee agreed at booking (0 for bookings
    # made before it existed), and, once recorded, when the no-show was and its invoice.
    reminders_sent: tuple[int, ...] = ()
    no_show_fee_cents: int = 0
    no_show_at: datetime | None = None
    no_show_invoice_id: str | None = None

    @property
    def cancellation_policy(self) -> CancellationPolicy:
        return CancellationPolicy(
            self.cancellation_free_hours, self.cancellation_fee_cents, self.late_reschedule_counts
        )

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


RESCHEDULABLE = frozenset({AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED})
# The statuses in which a booking stands, so its invoice, if still missing, is due. A
# cancelled or failed booking owes nothing (a no-show keeps its invoice, like any other).
INVOICEABLE = frozenset(
    {
        AppointmentStatus.SCHEDULED,
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.COMPLETED,
        AppointmentStatus.NO_SHOW,
    }
)
EDITABLE = frozenset({"reason", "notes"})

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
    policy: CancellationPolicy | None = None,
    no_show_fee_cents: int = 0,
) -> Change:
    """A new appointment, PENDING while its booking saga runs."""
    policy = policy or CancellationPolicy()
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
        cancellation_free_hours=policy.free_until_hours_before,
        cancellation_fee_cents=policy.late_fee_cents,
        late_reschedule_counts=policy.late_reschedule_counts,
        no_show_fee_cents=no_show_fee_cents,
    )
    after = {k: v for k, v in dataclasses.asdict(state).items() if k != "version"}
    requested = EVENT_FOR_STATUS[AppointmentStatus.PENDING]
    return _recorded(state, requested, {}, after, event_id, now, context, expected=None)


# Once an appointment has started the patient came (checked in, then completed) or did not
# (no-show): it is no longer confirmed, cancelled (a no-show is not turned into a cheap
# cancellation) or moved. The sagas' own steps (SCHEDULED, FAILED) are not such changes.
BEFORE_THE_START_ONLY = frozenset({AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED})


def ensure_not_started(appointment: Appointment, now: datetime, change: str) -> None:
    """Refuse (AppointmentStarted) a change that only makes sense before the start."""
    if now >= appointment.start:
        raise AppointmentStarted(
            f"the appointment started at {appointment.start.isoformat()}: it can no longer be "
            f"{change}; check the patient in or record a no-show"
        )


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
    if target in BEFORE_THE_START_ONLY:
        ensure_not_started(appointment, now, target.value.lower())
    if target is AppointmentStatus.NO_SHOW and now < appointment.start:
        raise NoShowBeforeStart(
            "A no-show cannot be recorded before the appointment's start time "
            f"({appointment.start.isoformat()})"
        )
    _ensure_changeable(fields)
    if target is AppointmentStatus.NO_SHOW:
        fields = {"no_show_at": now, **fields}
    return _change(
        appointment,
        EVENT_FOR_STATUS[target],
        {"status": target, **fields},
        event_id=event_id,
        now=now,
        context=context,
    )


def reschedule(
    appointment: Appointment,
    *,
    start: datetime,
    duration_minutes: int,
    hold_id: str,
    invoice_id: str | None,
    event_id: str,
    now: datetime,
    context: EventContext,
    fee_invoice_id: str | None = None,
) -> Change:
    """Move the appointment to a new time (same id); it is SCHEDULED again, to be confirmed
    anew. Only a SCHEDULED or CONFIRMED appointment moves, and only before its start. A
    late move records the invoice of its fee."""
    if appointment.status not in RESCHEDULABLE:
        raise IllegalTransition(appointment.status.value, "rescheduled")
    ensure_not_started(appointment, now, "rescheduled")
    fee = {"fee_invoice_id": fee_invoice_id} if fee_invoice_id else {}
    return _change(
        appointment,
        EventType.RESCHEDULED,
        {
            "status": AppointmentStatus.SCHEDULED,
            "start": start,
            "duration_minutes": duration_minutes,
            "hold_id": hold_id,
            "invoice_id": invoice_id,
            "reminders_sent": (),  # the new time gets its own reminders
            **fee,
        },
        event_id=event_id,
        now=now,
        context=context,
    )


# The statuses in which the journey still reminds the patient of the appointment.
REMINDABLE = RESCHEDULABLE
# What a reversed no-show becomes, as staff say: the patient is here, or was seen.
REVERSED_TO = frozenset({AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED})
# How long after a no-show was recorded staff may still reverse it (the patient did come).
NO_SHOW_REVERSAL_WINDOW = timedelta(hours=24)


def remind(
    appointment: Appointment,
    *,
    offset_minutes: int,
    event_id: str,
    now: datetime,
    context: EventContext,
    details: Mapping[str, Any],
) -> Change:
    """A reminder went out (appointment.reminder_due): only the reminders sent change.
    Refused (IllegalTransition) unless the appointment is SCHEDULED or CONFIRMED, has not
    started, and this reminder was not sent for its current start."""
    if appointment.status not in REMINDABLE or offset_minutes in appointment.reminders_sent:
        raise IllegalTransition(appointment.status.value, "reminded")
    ensure_not_started(appointment, now, "reminded")
    sent = tuple(sorted({*appointment.reminders_sent, offset_minutes}, reverse=True))
    return _change(
        appointment,
        EventType.REMINDER_DUE,
        {"reminders_sent": sent},
        event_id=event_id,
        now=now,
        context=context,
        details=details,
    )


def reverse_no_show(
    appointment: Appointment,
    target: AppointmentStatus,
    *,
    event_id: str,
    now: datetime,
    context: EventContext,
) -> Change:
    """The patient did come: a no-show recorded less than 24 h ago becomes CHECKED_IN or
    COMPLETED (appointment.no_show_reversed). The saga that calls this then voids its fee
    at Billing and records the void (``record_no_show_fee_voided``)."""
    if target not in REVERSED_TO:
        raise InvalidAppointment("a reversed no-show becomes CHECKED_IN or COMPLETED")
    ensure_no_show_reversible(appointment, now)
    return _change(
        appointment,
        EventType.NO_SHOW_REVERSED,
        {"status": target},
        event_id=event_id,
        now=now,
        context=context,
    )


def ensure_no_show_reversible(appointment: Appointment, now: datetime) -> None:
    """Refuse what cannot be reversed: not a no-show (IllegalTransition), or a no-show
    recorded more than ``NO_SHOW_REVERSAL_WINDOW`` ago (NoShowReversalClosed). The same
    rule ``reverse_no_show`` applies, so a saga can plan by it before it changes anything."""
    if appointment.status is not AppointmentStatus.NO_SHOW:
        raise IllegalTransition(appointment.status.value, "no-show reversed")
    recorded = appointment.no_show_at or appointment.updated_at
    if now - recorded > NO_SHOW_REVERSAL_WINDOW:
        raise NoShowReversalClosed(
            f"the no-show was recorded at {recorded.isoformat()}: it may be reversed for 24 h"
        )


def record_no_show_fee_voided(
    appointment: Appointment,
    *,
    invoice_id: str,
    event_id: str,
    now: datetime,
    context: EventContext,
) -> Change:
    """The fee of a reversed no-show was voided at Billing (appointment.no_show_fee_voided):
    the appointment no longer carries its invoice; the status stays. The event names the
    invoice and the amount (its details). Refused (IllegalTransition) unless the no-show
    was reversed and this invoice is still its fee."""
    if appointment.status not in REVERSED_TO or appointment.no_show_invoice_id != invoice_id:
        raise IllegalTransition(appointment.status.value, "relieved of its no-show fee")
    return _change(
        appointment,
        EventType.NO_SHOW_FEE_VOIDED,
        {"no_show_invoice_id": None},
        event_id=event_id,
        now=now,
        context=context,
        details={"invoice_id": invoice_id, "fee_cents": appointment.no_show_fee_cents},
    )


def awaits_invoice(appointment: Appointment) -> bool:
    """Booked while Billing was unreachable (policy "retry"), and its invoice still due:
    the booking stands and no invoice is recorded yet (a reschedule records its own)."""
    return appointment.invoice_id is None and appointment.status in INVOICEABLE


def record_invoice(
    appointment: Appointment,
    *,
    invoice_id: str,
    event_id: str,
    now: datetime,
    context: EventContext,
) -> Change:
    """Record the invoice of a booking that was SCHEDULED without one; the status stays.
    Refused (IllegalTransition) once the booking no longer awaits an invoice: cancelled,
    failed, or invoiced meanwhile."""
    if not awaits_invoice(appointment):
        raise IllegalTransition(appointment.status.value, "invoiced")
    return _change(
        appointment,
        EventType.INVOICED,
        {"invoice_id": invoice_id},
        event_id=event_id,
        now=now,
        context=context,
    )


def edit(
    appointment: Appointment,
    *,
    event_id: str,
    now: datetime,
    context: EventContext,
    **fields: str | None,
) -> Change:
    """Change the free-text fields (reason, notes) only; never of a FAILED record."""
    refused = set(fields) - EDITABLE
    if refused:
        raise InvalidAppointment(f"only {sorted(EDITABLE)} can be edited, not {sorted(refused)}")
    if appointment.status is AppointmentStatus.FAILED:
        raise IllegalTransition(appointment.status.value, "edited")
    return _change(
        appointment, EventType.EDITED, dict(fields), event_id=event_id, now=now, context=context
    )


def enter_in_error(
    appointment: Appointment, *, event_id: str, now: datetime, context: EventContext
) -> Change:
    """Mark a record that should never have existed: it is kept, with status FAILED (FHIR
    entered-in-error). An appointment that still holds its slot must be cancelled first,
    so the Doctor and Billing services never disagree with us."""
    if appointment.status.occupies_slot or appointment.status is AppointmentStatus.FAILED:
        raise IllegalTransition(appointment.status.value, "entered-in-error")
    return _change(
        appointment,
        EventType.ENTERED_IN_ERROR,
        {"status": AppointmentStatus.FAILED},
        event_id=event_id,
        now=now,
        context=context,
    )


def _ensure_changeable(fields: dict[str, Any]) -> None:
    refused = set(fields) - _CHANGEABLE
    if refused:
        raise InvalidAppointment(f"a transition cannot set {sorted(refused)}")


def _change(
    appointment: Appointment,
    event_type: EventType,
    changes: dict[str, Any],
    *,
    event_id: str,
    now: datetime,
    context: EventContext,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """``details``: what the event tells beyond the state (never folded)."""
    after: dict[str, Any] = {**changes, "updated_at": now}
    before = {key: getattr(appointment, key) for key in after}
    state = dataclasses.replace(appointment, **after, version=appointment.version + 1)
    change = _recorded(
        state, event_type, before, after, event_id, now, context, expected=appointment.version
    )
    if details:
        change = dataclasses.replace(
            change, event=dataclasses.replace(change.event, details=dict(details))
        )
    return change


def _recorded(
    state: Appointment,
    event_type: EventType,
    before: dict[str, Any],
    after: dict[str, Any],
    event_id: str,
    now: datetime,
    context: EventContext,
    *,
    expected: int | None,
) -> Change:
    """``state`` with the event that made it: the event's seq is the state's version."""
    event = AppointmentEvent(
        event_id=event_id,
        appointment_id=state.id,
        seq=state.version,
        type=event_type,
        occurred_at=now,
        context=context,
        before=before,
        after=after,
    )
    return Change(state=state, event=event, expected_version=expected)


class BrokenEventLog(ValueError):
    """Events that do not fold into a state: a gap in seq, two different events with one
    seq, or a first event that does not set what every appointment has."""


class SequencedEvent(Protocol):
    """What folding needs of an event: the event store's rows and the read view's copies
    of them both have it."""

    @property
    def seq(self) -> int: ...

    @property
    def after(self) -> Mapping[str, Any]: ...


E = TypeVar("E", bound=SequencedEvent)


@dataclass(frozen=True, slots=True)
class Folded(Generic[E]):
    values: dict[str, Any]  # every field the events set, at ``version``
    version: int  # the seq of the last event applied
    last: E | None  # that event; None when no event was newer than the start


def fold(
    appointment_id: str, values: Mapping[str, Any], version: int, events: Iterable[E]
) -> Folded[E]:
    """The one event application: ``values`` (the state at ``version``; empty at 0) brought
    forward by ``events`` in seq order, each event's ``after`` applied over the state.

    Idempotent: an event at or below ``version`` is already in the state and skipped, so a
    duplicate or a replay changes nothing. Exact: a gap in seq, or two different events
    with one seq, raises BrokenEventLog."""
    state = dict(values)
    last: E | None = None
    for event in sorted(events, key=lambda e: e.seq):
        if event.seq <= version:
            if last is not None and event.seq == last.seq and event != last:
                raise BrokenEventLog(
                    f"event log of {appointment_id} is not gap-free: "
                    f"two events with seq {event.seq}"
                )
            continue
        if event.seq != version + 1:
            raise BrokenEventLog(f"event log of {appointment_id} has a gap before seq {event.seq}")
        state.update(event.after)
        version, last = event.seq, event
    return Folded(state, version, last)


def replay(events: Iterable[AppointmentEvent]) -> Appointment:
    """Rebuild an appointment from its events alone (the event-sourced audit trail)."""
    history = list(events)
    if not history:
        raise BrokenEventLog("no events to replay")
    folded = fold(history[0].appointment_id, {}, 0, history)
    values = folded.values | {"status": AppointmentStatus(folded.values["status"])}
    return Appointment(**values, version=folded.version)
