"""What the use cases answer, to every door alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from domain.events import AppointmentEvent
from domain.journey import NextAction, ReminderState
from domain.model import Appointment
from domain.status import AppointmentStatus


@dataclass(frozen=True, slots=True)
class SagaDone:
    """The saga finished (or, for booking, SCHEDULED the appointment): read it."""

    appointment_id: str


@dataclass(frozen=True, slots=True)
class SagaRunning:
    """The saga still runs after the wait budget: REST answers 202, GraphQL ``pending``."""

    appointment_id: str
    workflow_id: str | None  # None for whom runs are not shown (application.saga_runs)
    step: str | None = None  # the booking saga's step, when it could be asked


SagaAnswer = SagaDone | SagaRunning


@dataclass(frozen=True, slots=True)
class PendingBooking:
    """An appointment whose booking saga has not persisted it yet."""

    id: str
    patient_id: str
    doctor_id: str
    workflow_id: str | None  # None for whom runs are not shown (application.saga_runs)
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list, in (start, id) order; ``next_cursor`` None on the last."""

    items: list[Appointment]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of an appointment's events, in seq order; ``next_cursor`` None on the last."""

    events: list[AppointmentEvent]
    next_cursor: str | None


class ScheduleEntry(BaseModel):
    """An appointment as a schedule shows it (a row of the read view)."""

    id: str = Field(examples=["0b5f2c7e-4f1a-4f3e-9a51-7c1d2e3f4a5b"])
    patient_id: str = Field(examples=["pat-anna-schmidt"])
    patient_name: str | None = Field(
        description="null when the Patient Service does not know the patient",
        examples=["Anna Schmidt"],
    )
    doctor_id: str = Field(examples=["doc-on-call"])
    doctor_name: str | None = Field(examples=["Dr. Noah Fischer (on call)"])
    doctor_specialty: str | None = Field(examples=["general practice"])
    day: str = Field(
        description="the start's date in the clinic's time zone", examples=["2030-01-07"]
    )
    start: datetime = Field(description="UTC", examples=["2030-01-07T08:00:00Z"])
    end: datetime = Field(description="UTC", examples=["2030-01-07T08:15:00Z"])
    duration_minutes: int = Field(examples=[15])
    timezone: str = Field(description="the clinic's IANA time zone", examples=["Europe/Berlin"])
    status: AppointmentStatus
    reason: str | None = Field(examples=["Persistent cough"])
    updated_at: datetime = Field(description="when the last change the view holds happened")


class FreeSlot(BaseModel):
    start: datetime = Field(description="UTC", examples=["2030-01-07T08:00:00Z"])
    end: datetime = Field(description="UTC", examples=["2030-01-07T08:15:00Z"])


class JourneyReminder(BaseModel):
    """One reminder of the appointment's current start."""

    offset_minutes: int = Field(description="minutes before the start", examples=[1440])
    due_at: datetime = Field(
        description="UTC; when it fires (or fired): the offset before the start, moved "
        "earlier out of the clinic's quiet hours",
        examples=["2030-01-06T08:00:00Z"],
    )
    state: ReminderState = Field(
        description="`sent`; `due`: it will fire at due_at; `skipped`: its moment passed "
        "unsent (booked or moved too late for it, or the appointment no longer awaits it)"
    )


class Journey(BaseModel):
    """The appointment's journey after booking (application/journeys.py), computed from the
    stored appointment and this deployment's journey settings, without asking Temporal."""

    reminders: list[JourneyReminder] = Field(description="earliest first")
    next_action: NextAction | None = Field(
        description="what the journey does next; null once nothing is left to do (checked "
        "in, or a terminal status)"
    )
    next_action_at: datetime | None = Field(
        description="UTC; when the next action fires (in the past while it is being done)"
    )
    no_show_check_at: datetime = Field(
        description="UTC; the start plus the grace time: still SCHEDULED or CONFIRMED then, "
        "the appointment becomes NO_SHOW"
    )
    no_show_fee_cents: int = Field(
        description="invoiced for an automatic no-show; the fee agreed at booking"
    )
