"""The API's request and response bodies (Pydantic at the boundary)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from api.fhir.mapping import fhir_status_of
from application.commands import (
    CancellationDetails,
    EditDetails,
    NewAppointment,
    NewTime,
    NoShowReversalDetails,
)
from application.results import Journey, PendingBooking
from config import Settings
from domain.events import AppointmentEvent
from domain.model import Appointment
from domain.status import AppointmentStatus

# The examples of Swagger's "Try it out" must book: a seeded patient (simulators/seed_data.py)
# and tomorrow (within the booking horizon) on the on-call doctor's 15-minute grid, inside
# their working hours 07:00-21:00 in the clinic's time zone. Computed when the module loads.
_CLINIC_TIMEZONE = ZoneInfo("Europe/Berlin")


def _tomorrow_at(hour: int, minute: int = 0) -> str:
    tomorrow = datetime.now(_CLINIC_TIMEZONE).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(hour, minute), _CLINIC_TIMEZONE).isoformat()


EXAMPLE_START = _tomorrow_at(9)
EXAMPLE_NEW_START = _tomorrow_at(10)
# Saga runs' ids are operators' handles (application/saga_runs.py).
RUNS_SHOWN = "; staff and admin only (null for patients and doctors)"


class BookAppointment(NewAppointment):
    """Validated strictly, as this schema says: `duration_minutes` a JSON integer, `start`
    an ISO 8601 date-time string with an offset, the ids matching their pattern as sent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "pat-anna-schmidt",
                    "doctor_id": "doc-on-call",
                    "start": EXAMPLE_START,
                    "duration_minutes": 15,
                    "reason": "Persistent cough",
                }
            ]
        },
    )


class AppointmentOut(BaseModel):
    id: str
    patient_id: str
    doctor_id: str
    start: datetime
    end: datetime
    duration_minutes: int
    timezone: str
    status: AppointmentStatus
    fhir_status: str = Field(description="the FHIR Appointment.status this maps to")
    reason: str | None = None
    notes: str | None = None
    invoice_id: str | None = None
    hold_id: str | None = None
    booking_workflow_id: str | None = Field(
        None, description="the booking saga's run in Temporal" + RUNS_SHOWN
    )
    cancellation_free_hours: int = Field(description="free cancellation until N hours before")
    cancellation_fee_cents: int = Field(description="the fee for a later cancellation")
    late_reschedule_counts: bool = Field(
        description="whether a reschedule inside the late window costs the fee too (the "
        "policy captured at booking; false for bookings made before that rule)"
    )
    fee_invoice_id: str | None = Field(
        None, description="the invoice of the late fee the last late reschedule charged"
    )
    no_show_at: datetime | None = Field(
        None, description="when the no-show was recorded; staff may reverse it for 24 h"
    )
    no_show_invoice_id: str | None = Field(
        None, description="the no-show fee's invoice at Billing; null once a reversal voided it"
    )
    version: int
    created_at: datetime
    updated_at: datetime
    journey: Journey | None = Field(
        description="its reminders, the next action and when (computed from the stored "
        "appointment and the journey settings); null while PENDING and for FAILED"
    )

    @classmethod
    def of(cls, appointment: Appointment, journey: Journey | None) -> AppointmentOut:
        """``journey``: ``Services.journeys.of(appointment)``."""
        return cls.model_validate(
            dataclasses.asdict(appointment)
            | {
                "end": appointment.end,
                "fhir_status": fhir_status_of(appointment.status),
                "journey": journey,
            }
        )


class BookingAccepted(BaseModel):
    """202: the saga is still running; poll ``Location``."""

    appointment_id: str
    status: str = "PENDING"
    step: str | None = Field(None, description="the saga step it is at")
    workflow_id: str | None = Field(None, description="the saga's run" + RUNS_SHOWN)


class PendingAppointment(BaseModel):
    """An appointment whose booking saga has not persisted it yet."""

    id: str
    patient_id: str
    doctor_id: str
    status: str = "PENDING"
    step: str | None = None
    workflow_id: str | None = Field(None, description="the saga's run" + RUNS_SHOWN)

    @classmethod
    def of(cls, pending: PendingBooking) -> PendingAppointment:
        return cls(**dataclasses.asdict(pending))


class ChangeReason(BaseModel):
    """The optional body of a status change: why, for the audit trail."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"reason": "Patient called to confirm"}]},
    )

    reason: str | None = Field(None, max_length=500, description="kept in the event")


class EditAppointment(EditDetails):
    """PATCH: the free-text fields only. A field left out stays; ``null`` clears it. At
    least one of them is named (``minProperties``): an empty edit is refused."""

    model_config = ConfigDict(
        json_schema_extra={"minProperties": 1, "examples": [{"notes": "Bring the last blood test"}]}
    )


class AppointmentPage(BaseModel):
    items: list[AppointmentOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class EventOut(BaseModel):
    """One change of the appointment, as its event store keeps it."""

    seq: int = Field(description="1, 2, 3, ...: the appointment's version after it")
    type: str = Field(examples=["appointment.confirmed"])
    occurred_at: datetime
    actor: str = Field(
        description="who made the change, `<role>:<subject>`; only the role when "
        "a patient or doctor reads a change made by someone else",
        examples=["staff:frontdesk-1"],
    )
    reason: str | None = None
    workflow_id: str | None = Field(
        None, description="the saga run that made it, if one did" + RUNS_SHOWN
    )
    run_id: str | None = Field(None, description="that run's Temporal run id" + RUNS_SHOWN)
    request_id: str | None = None
    before: dict[str, Any] = Field(description="the changed fields' values before")
    after: dict[str, Any] = Field(description="the changed fields' values after")

    @classmethod
    def of(cls, event: AppointmentEvent) -> EventOut:
        context = event.context
        return cls(
            seq=event.seq,
            type=event.type.value,
            occurred_at=event.occurred_at,
            actor=context.actor,
            reason=context.reason,
            workflow_id=context.workflow_id,
            run_id=context.run_id,
            request_id=context.request_id,
            before=event.before,
            after=event.after,
        )


class AppointmentHistory(BaseModel):
    appointment_id: str
    events: list[EventOut] = Field(description="in seq order, oldest first")
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class CancelAppointment(CancellationDetails):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Feeling better"}]})


class NoShowReversal(NoShowReversalDetails):
    """`to` is what the appointment becomes: `CHECKED_IN` or `COMPLETED`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"to": "COMPLETED", "reason": "seen at 09:20, came late"}]}
    )


class RescheduleAppointment(NewTime):
    """Validated strictly, as this schema says: `start` an ISO 8601 date-time string with
    an offset, `duration_minutes` a JSON integer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"start": EXAMPLE_NEW_START}]})


class SagaAccepted(BaseModel):
    """202: the saga still runs after the wait budget; poll ``Location``."""

    appointment_id: str
    workflow_id: str | None = Field(None, description="the saga's run" + RUNS_SHOWN)


class Readiness(BaseModel):
    """200 of the readiness probe: every dependency answers. A peer service behind an open
    circuit breaker makes the API ``degraded``, never unready: a peer's outage must not
    take this service out of its load balancer."""

    status: Literal["ok", "degraded"] = Field(
        description="`degraded` while a peer's circuit breaker is not closed"
    )
    checks: dict[str, str] = Field(
        description="each dependency checked, and its state",
        examples=[{"mongodb": "ok", "temporal": "ok"}],
    )
    breakers: dict[str, Literal["closed", "open", "half_open"]] = Field(
        default_factory=dict,
        description="this API process's circuit breaker of each peer service",
        examples=[{"patient": "closed", "doctor": "closed", "billing": "closed"}],
    )


def state_configured_limits(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The OpenAPI ``document`` with the bounds this app is configured with: an
    appointment's length is refused outside ``min_duration_minutes`` ..
    ``max_duration_minutes`` (domain/rules.py), so the bodies that carry one say so (the
    model's own bounds are only the outer limits any configuration keeps). Changes
    ``document`` in place and returns it."""
    schemas = document.get("components", {}).get("schemas", {})
    # The waitlist's body (api/waitlist_schemas.py) asks for a length by the same rules.
    for name in (BookAppointment.__name__, RescheduleAppointment.__name__, "WaitlistRequest"):
        duration: dict[str, Any] = schemas[name]["properties"]["duration_minutes"]
        cells = int(duration.pop("multipleOf"))
        number = next(
            (s for s in duration.get("anyOf", []) if s.get("type") == "integer"), duration
        )
        lowest = max(number["minimum"], settings.min_duration_minutes)
        longest = min(number["maximum"], settings.max_duration_minutes)
        number |= {"minimum": lowest, "maximum": longest, "multipleOf": cells}
        duration["description"] += f"; {lowest}-{longest} minutes, a multiple of {cells}"
    return document
