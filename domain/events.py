"""The events an appointment emits. Each carries the values it changed, before and after,
so the appointment's state is a fold over its events (``domain.model.replay``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.status import AppointmentStatus

SCHEMA_VERSION = 1

# Event ids are UUIDv5 of the change's idempotency key: the same key, the same id, so a
# retried change is recognised by the store instead of being written twice.
EVENT_NAMESPACE = uuid.UUID("6f1c1d2e-8a4b-4c55-9a61-2d1f0f0c7a10")


def event_id_for(idempotency_key: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, idempotency_key))


class EventType(StrEnum):
    REQUESTED = "appointment.requested"  # PENDING: the booking saga persisted it
    SCHEDULED = "appointment.scheduled"
    BOOKING_FAILED = "appointment.booking_failed"
    CONFIRMED = "appointment.confirmed"
    CHECKED_IN = "appointment.checked_in"
    COMPLETED = "appointment.completed"
    CANCELLED = "appointment.cancelled"
    NO_SHOW = "appointment.no_show"
    RESCHEDULED = "appointment.rescheduled"  # new time, SCHEDULED again
    EDITED = "appointment.edited"  # reason or notes
    ENTERED_IN_ERROR = "appointment.entered_in_error"  # DELETE: kept, status FAILED
    # The invoice of a booking made while Billing was unreachable: status unchanged
    INVOICED = "appointment.invoiced"
    # The journey (workflows/journey.py): a reminder went out (status unchanged; the event
    # carries the offset, the local time, the doctor's name and the action links), and a
    # no-show that staff reversed (the patient did come): CHECKED_IN or COMPLETED.
    REMINDER_DUE = "appointment.reminder_due"
    NO_SHOW_REVERSED = "appointment.no_show_reversed"
    # The reversed no-show's fee was voided at Billing (status unchanged; the event names
    # the invoice and the amount, the appointment no longer carries the invoice).
    NO_SHOW_FEE_VOIDED = "appointment.no_show_fee_voided"


EVENT_FOR_STATUS: dict[AppointmentStatus, EventType] = {
    AppointmentStatus.PENDING: EventType.REQUESTED,
    AppointmentStatus.SCHEDULED: EventType.SCHEDULED,
    AppointmentStatus.FAILED: EventType.BOOKING_FAILED,
    AppointmentStatus.CONFIRMED: EventType.CONFIRMED,
    AppointmentStatus.CHECKED_IN: EventType.CHECKED_IN,
    AppointmentStatus.COMPLETED: EventType.COMPLETED,
    AppointmentStatus.CANCELLED: EventType.CANCELLED,
    AppointmentStatus.NO_SHOW: EventType.NO_SHOW,
}


@dataclass(frozen=True, slots=True)
class EventContext:
    """Who and what caused a change: the actor, and the saga run that carried it out."""

    actor: str
    reason: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AppointmentEvent:
    event_id: str  # derived from the caller's idempotency key: a retried change is recognised
    appointment_id: str
    seq: int  # 1, 2, 3, ... per appointment; equals the appointment's version after it
    type: EventType
    occurred_at: datetime
    context: EventContext
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    # What the event tells beyond the state it changed (a reminder's offset, local time,
    # doctor's name and links): in the event store and the envelope, never folded.
    details: dict[str, Any] = field(default_factory=dict)
