"""The CQRS read view (ARCHITECTURE §3): one denormalized row per appointment, made for
schedule queries, and the checkpoint that says how far the projector has read.

Only the projector (``projections.projection``) writes these collections; the API and
GraphQL read them through ``projections.queries``. The view is eventually consistent: the
write model (``appointments``) is the strongly consistent read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from domain.status import AppointmentStatus

READ_VIEW = "appointment_read_view"
CHECKPOINTS = "projection_checkpoints"

# doctor_start serves a doctor's schedule and free slots (an index range of one doctor's
# starts); patient_start serves a patient's appointments. Both end on start, so a window
# [from, to) is one contiguous range, already in the order the queries answer.
READ_VIEW_INDEXES = [
    IndexModel([("doctor_id", ASCENDING), ("start", ASCENDING)], name="doctor_start"),
    IndexModel([("patient_id", ASCENDING), ("start", ASCENDING)], name="patient_start"),
]


class AppointmentReadView(Document):
    """An appointment as schedules show it: names of patient and doctor beside their ids,
    the clinic day, start and end. Never the notes (private to the appointment)."""

    id: str  # type: ignore[assignment]  # the appointment id
    version: int = Field(description="seq of the last event folded into this row")
    patient_id: str
    patient_name: str | None = None  # None: the Patient Service does not know the patient
    doctor_id: str
    doctor_name: str | None = None
    doctor_specialty: str | None = None
    day: str = Field(description="YYYY-MM-DD of the start in the clinic's time zone")
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    duration_minutes: int
    timezone: str
    status: AppointmentStatus
    reason: str | None = None
    updated_at: datetime = Field(description="occurred_at of the last event folded in")

    class Settings:
        name = READ_VIEW
        indexes = READ_VIEW_INDEXES


class ProjectionCheckpoint(Document):
    """Where a projector stands in the event store's change stream: every event before
    ``resume_token`` is in the view. Saved after each batch."""

    id: str  # type: ignore[assignment]  # the projector's name
    resume_token: dict[str, Any]
    updated_at: datetime

    class Settings:
        name = CHECKPOINTS


READ_VIEW_MODELS: list[type[Document]] = [AppointmentReadView, ProjectionCheckpoint]
