"""The API's request and response bodies (Pydantic at the boundary)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from domain.events import AppointmentEvent
from domain.model import Appointment
from domain.status import AppointmentStatus
from peers.breaker import BreakerState

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

# RFC 3339 (the JSON Schema ``date-time``): a date, ``T``, a time and an offset. Pydantic
# alone would also take Unix seconds (as a number or a string of digits) and other
# spellings the schema does not allow.
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII)
DATE_TIME_MESSAGE = (
    "must be an ISO 8601 date-time string with a UTC offset, e.g. 2030-01-07T09:00:00+01:00"
)


def _a_date_time_string(value: Any) -> Any:
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError(DATE_TIME_MESSAGE)
    return value


# An aware datetime given as an RFC 3339 string, and only so; that string is then parsed
# laxly even in a strict model (strict Pydantic would take only ``datetime`` objects).
DateTimeWithOffset = Annotated[AwareDatetime, Strict(False), BeforeValidator(_a_date_time_string)]

# The examples of Swagger's "Try it out" must book: a seeded patient (simulators/seed_data.py)
# and tomorrow (within the booking horizon) on the on-call doctor's 15-minute grid, inside
# their working hours 07:00-21:00 in the clinic's time zone. Computed when the module loads.
_CLINIC_TIMEZONE = ZoneInfo("Europe/Berlin")


def _tomorrow_at(hour: int, minute: int = 0) -> str:
    tomorrow = datetime.now(_CLINIC_TIMEZONE).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(hour, minute), _CLINIC_TIMEZONE).isoformat()


EXAMPLE_START = _tomorrow_at(9)
EXAMPLE_NEW_START = _tomorrow_at(10)


class BookAppointment(BaseModel):
    """Validated strictly, as this schema says: `duration_minutes` a JSON integer, `start`
    an ISO 8601 date-time string with an offset, the ids matching their pattern as sent."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
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

    patient_id: str = Field(pattern=ID_PATTERN, description="the Patient Service's id")
    doctor_id: str = Field(pattern=ID_PATTERN, description="the Doctor Service's id")
    start: DateTimeWithOffset = Field(
        description="ISO 8601 with a UTC offset; on the doctor's grid"
    )
    duration_minutes: int = Field(ge=5, le=480, description="a multiple of 5 minutes")
    reason: str | None = Field(None, max_length=500)


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
    booking_workflow_id: str | None = None
    cancellation_free_hours: int = Field(description="free cancellation until N hours before")
    cancellation_fee_cents: int = Field(description="the fee for a later cancellation")
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentOut:
        return cls.model_validate(
            dataclasses.asdict(appointment)
            | {"end": appointment.end, "fhir_status": appointment.status.fhir}
        )


class BookingAccepted(BaseModel):
    """202: the saga is still running; poll ``Location``."""

    appointment_id: str
    status: str = "PENDING"
    step: str | None = Field(None, description="the saga step it is at")
    workflow_id: str


class PendingAppointment(BaseModel):
    """An appointment whose booking saga has not persisted it yet."""

    id: str
    patient_id: str
    doctor_id: str
    status: str = "PENDING"
    step: str | None = None
    workflow_id: str


class ChangeReason(BaseModel):
    """The optional body of a status change: why, for the audit trail."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"reason": "Patient called to confirm"}]},
    )

    reason: str | None = Field(None, max_length=500, description="kept in the event")


class EditAppointment(BaseModel):
    """PATCH: the free-text fields only. A field left out stays; ``null`` clears it."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"notes": "Bring the last blood test"}]},
    )

    reason: str | None = Field(None, max_length=500, description="why the patient comes")
    notes: str | None = Field(None, max_length=2000, description="notes for the visit")

    @model_validator(mode="after")
    def _names_a_field(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("name at least one of reason, notes")
        return self

    def changes(self) -> dict[str, str | None]:
        return self.model_dump(include=self.model_fields_set)


def encode_cursor(start: datetime, appointment_id: str) -> str:
    """Opaque to clients: base64url of the (start, id) of the last appointment returned."""
    raw = json.dumps([start.astimezone(UTC).isoformat(), appointment_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, appointment_id = json.loads(raw)
        instant = datetime.fromisoformat(start)
        if instant.utcoffset() is None or not isinstance(appointment_id, str):
            raise ValueError
        return instant.astimezone(UTC), appointment_id
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError, OverflowError):
        raise ValueError("not a cursor this API issued; pass next_cursor as it is") from None


MAX_PAGE = 100


class ListQuery(BaseModel):
    """The query of ``GET /api/v1/appointments``. Unknown parameters are refused, so a
    misspelt filter never silently widens the result."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    doctor_id: str | None = Field(None, pattern=ID_PATTERN, description="only this doctor's")
    patient_id: str | None = Field(None, pattern=ID_PATTERN, description="only this patient's")
    status: list[AppointmentStatus] = Field(
        default_factory=list,
        description="only these statuses; repeat the parameter for several: "
        "`?status=SCHEDULED&status=CONFIRMED`",
    )
    start_from: DateTimeWithOffset | None = Field(
        None, alias="from", description="start at or after this instant (with an offset)"
    )
    start_to: DateTimeWithOffset | None = Field(
        None, alias="to", description="start before this instant (with an offset)"
    )
    limit: int = Field(20, ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")

    @field_validator("start_from", "start_to")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        try:
            return value.astimezone(UTC) if value else value
        except OverflowError:
            raise ValueError("out of range") from None

    @field_validator("cursor")
    @classmethod
    def _a_cursor(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value

    @model_validator(mode="after")
    def _a_range(self) -> Self:
        if self.start_from and self.start_to and self.start_from >= self.start_to:
            raise ValueError("from must be before to")
        return self

    def position(self) -> tuple[datetime, str] | None:
        return decode_cursor(self.cursor) if self.cursor else None


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
    workflow_id: str | None = Field(None, description="the saga run that made it, if one did")
    run_id: str | None = None
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


class CancelAppointment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"reason": "Feeling better"}]},
    )

    reason: str | None = Field(None, max_length=500, description="why, for the audit trail")


class RescheduleAppointment(BaseModel):
    """Validated strictly, as this schema says: `start` an ISO 8601 date-time string with
    an offset, `duration_minutes` a JSON integer."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"start": EXAMPLE_NEW_START}]},
    )

    start: DateTimeWithOffset = Field(description="the new start, ISO 8601 with a UTC offset")
    duration_minutes: int | None = Field(
        None, ge=5, le=480, description="the new length; the current one if absent"
    )
    reason: str | None = Field(None, max_length=500, description="why, for the audit trail")


class SagaAccepted(BaseModel):
    """202: the saga still runs after the wait budget; poll ``Location``."""

    appointment_id: str
    workflow_id: str


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
    breakers: dict[str, BreakerState] = Field(
        default_factory=dict,
        description="this API process's circuit breaker of each peer service",
        examples=[{"patient": "closed", "doctor": "closed", "billing": "closed"}],
    )
