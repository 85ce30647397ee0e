"""The API's request and response bodies (Pydantic at the boundary)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.model import Appointment
from domain.status import AppointmentStatus

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class BookAppointment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "pat-noah-fischer",
                    "doctor_id": "doc-on-call",
                    "start": "2030-01-07T09:00:00+01:00",
                    "duration_minutes": 30,
                    "reason": "Persistent cough",
                }
            ]
        },
    )

    patient_id: str = Field(pattern=ID_PATTERN, description="the Patient Service's id")
    doctor_id: str = Field(pattern=ID_PATTERN, description="the Doctor Service's id")
    start: AwareDatetime = Field(description="ISO 8601 with a UTC offset; on the doctor's grid")
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
