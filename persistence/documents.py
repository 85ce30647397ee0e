"""Beanie documents: the write model, the event store and the outbox (ARCHITECTURE §3).
Only ``persistence.store`` writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from domain.status import ACTIVE_STATUSES, AppointmentStatus
from messaging.outbox import OUTBOX_COLLECTION
from persistence.waitlist_documents import WAITLIST_DOCUMENT_MODELS

NO_OVERLAP_INDEX = "no_overlapping_active_appointments"


class Appointment(Document):
    """Current state of one appointment; ``version`` guards concurrent changes."""

    id: str  # type: ignore[assignment]  # our ids are UUID strings, not ObjectIds
    patient_id: str
    doctor_id: str
    start: datetime
    end: datetime
    duration_minutes: int
    timezone: str
    status: AppointmentStatus
    version: int
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    notes: str | None = None
    hold_id: str | None = None
    invoice_id: str | None = None
    booking_workflow_id: str | None = None
    cancellation_free_hours: int = 24
    cancellation_fee_cents: int = 0
    # False in documents written before late reschedules counted (domain/policy.py): they
    # keep the policy they captured.
    late_reschedule_counts: bool = False
    fee_invoice_id: str | None = None
    # The journey (domain/model.py): absent in documents from before it, read as none.
    reminders_sent: list[int] = Field(default_factory=list)
    no_show_fee_cents: int = 0
    no_show_at: datetime | None = None
    no_show_invoice_id: str | None = None
    # One entry per 5-minute cell the appointment covers. The unique partial index below
    # over (doctor_id, cells) makes overlapping active appointments impossible in the
    # database itself, whatever the services in front of it do.
    cells: list[datetime] = Field(default_factory=list)

    class Settings:
        name = "appointments"
        indexes = [
            IndexModel(
                [("doctor_id", ASCENDING), ("cells", ASCENDING)],
                name=NO_OVERLAP_INDEX,
                unique=True,
                partialFilterExpression={"status": {"$in": sorted(ACTIVE_STATUSES)}},
            ),
            IndexModel([("doctor_id", ASCENDING), ("start", ASCENDING)], name="doctor_start"),
            IndexModel([("patient_id", ASCENDING), ("start", ASCENDING)], name="patient_start"),
            IndexModel([("status", ASCENDING), ("start", ASCENDING)], name="status_start"),
        ]


class AppointmentEvent(Document):
    """The event store: append-only, one row per change, gap-free ``seq`` per appointment."""

    id: str  # type: ignore[assignment]  # the event id, derived from the idempotency key
    appointment_id: str
    seq: int
    type: str
    occurred_at: datetime
    actor: str
    reason: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    request_id: str | None = None
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "appointment_events"
        indexes = [
            IndexModel(
                [("appointment_id", ASCENDING), ("seq", ASCENDING)],
                name="appointment_seq",
                unique=True,
            ),
            IndexModel([("occurred_at", ASCENDING)], name="occurred_at"),
        ]


# Published rows are kept this long (for audits and replays to a rebuilt topic), then
# MongoDB's TTL monitor deletes them. Unpublished and parked rows have no published_at,
# so they are never deleted. SecantusDB honours TTL indexes too (checked: ~1 minute sweep).
PUBLISHED_RETENTION_SECONDS = 7 * 24 * 3600


class OutboxEvent(Document):
    """An event waiting for Kafka, written in the same transaction as its change.

    ``messaging.relay`` is the one reader: it publishes rows with no ``published_at``
    and not ``parked``, oldest first, and per key in ``seq`` order."""

    id: str  # type: ignore[assignment]  # = the event id; consumers dedupe by it
    topic: str
    key: str  # the appointment (or waitlist entry) id: Kafka keeps its order by key
    envelope: dict[str, Any]  # the JSON value of ARCHITECTURE §4
    created_at: datetime
    # The event's seq (= the appointment's version after it). 0 on rows written before the
    # field existed; the relay then falls back to created_at order for them.
    seq: int = 0
    published_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    parked: bool = False

    class Settings:
        name = OUTBOX_COLLECTION
        indexes = [
            # The relay's queue: unpublished rows (published_at null) in publishing order.
            # Parked rows are few and filtered after the index; sorting on the index keeps
            # a large backlog from being sorted in memory.
            IndexModel(
                [("published_at", ASCENDING), ("created_at", ASCENDING), ("seq", ASCENDING)],
                name="relay_queue",
            ),
            IndexModel([("key", ASCENDING), ("created_at", ASCENDING)], name="key_order"),
            IndexModel(
                [("published_at", ASCENDING)],
                name="published_retention",
                expireAfterSeconds=PUBLISHED_RETENTION_SECONDS,
            ),
        ]


DOCUMENT_MODELS: list[type[Document]] = [
    Appointment,
    AppointmentEvent,
    OutboxEvent,
    *WAITLIST_DOCUMENT_MODELS,
]
