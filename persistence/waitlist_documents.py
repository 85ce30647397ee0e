"""Beanie documents of the waitlist (domain/waitlist.py): the entries with their offers,
the entries' event store, and the offer rounds holding slots. Only
``persistence.waitlist_store`` writes them; their outbox rows share ``outbox_events`` with
the appointments' (persistence/documents.py), each naming its own topic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from domain.waitlist import EntryStatus, LeftBecause, OfferStatus, Priority

# A patient never holds two open offers at once, even when two offer rounds race for
# them: the second round's commit hits this index (persistence/waitlist_store.py turns it
# into ConcurrencyConflict), whatever the rounds believed when they picked the patient.
ONE_OPEN_OFFER_INDEX = "one_open_offer_per_patient"


class WaitlistOffer(BaseModel):
    """One offer made to an entry (a sub-document of the entry)."""

    id: str
    round_id: str
    start: datetime
    end: datetime
    offered_at: datetime
    expires_at: datetime
    status: OfferStatus
    closed_at: datetime | None = None
    appointment_id: str | None = None


class WaitlistEntry(Document):
    """Current state of one waitlist entry; ``version`` guards concurrent changes."""

    id: str  # type: ignore[assignment]  # our ids are strings, not ObjectIds
    patient_id: str
    doctor_id: str
    earliest_start: datetime
    latest_start: datetime
    duration_minutes: int
    priority: Priority
    status: EntryStatus
    joined_at: datetime
    version: int
    timezone: str
    offers: list[WaitlistOffer] = Field(default_factory=list)
    appointment_id: str | None = None
    note: str | None = None
    left_because: LeftBecause | None = None
    updated_at: datetime | None = None

    class Settings:
        name = "waitlist_entries"
        indexes = [
            IndexModel(
                [("patient_id", ASCENDING)],
                name=ONE_OPEN_OFFER_INDEX,
                unique=True,
                partialFilterExpression={"status": EntryStatus.OFFERED.value},
            ),
            # A patient's entries (the limit, their list).
            IndexModel([("patient_id", ASCENDING), ("status", ASCENDING)], name="patient_status"),
            # A freed slot's candidates: the doctor's WAITING entries by window.
            IndexModel(
                [("doctor_id", ASCENDING), ("status", ASCENDING), ("earliest_start", ASCENDING)],
                name="doctor_status_window",
            ),
            # An answer to an offer finds its entry.
            IndexModel([("offers.id", ASCENDING)], name="offer_id"),
            # Active entries whose window has passed.
            IndexModel(
                [("status", ASCENDING), ("latest_start", ASCENDING)], name="status_window_end"
            ),
            # Keyset listing.
            IndexModel([("joined_at", ASCENDING), ("_id", ASCENDING)], name="joined_order"),
        ]


class WaitlistEvent(Document):
    """The waitlist's event store: append-only, gap-free ``seq`` per entry."""

    id: str  # type: ignore[assignment]  # the event id, derived from the idempotency key
    entry_id: str
    seq: int
    type: str
    occurred_at: datetime
    actor: str
    details: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "waitlist_events"
        indexes = [
            IndexModel(
                [("entry_id", ASCENDING), ("seq", ASCENDING)], name="entry_seq", unique=True
            ),
        ]


class WaitlistRound(Document):
    """One offer round (workflows/contracts/waitlist.py): the slot it holds for the
    waitlist, until when, and whether it has let the slot go. A round id names a slot, so
    a slot freed again after its round ended runs under the same id: saving it again
    makes it running again."""

    id: str  # type: ignore[assignment]  # the round's workflow id
    doctor_id: str
    start: datetime
    end: datetime
    held_until: datetime
    offer_expires_at: datetime | None = None
    ended: bool = False
    ended_at: datetime | None = None
    updated_at: datetime

    class Settings:
        name = "waitlist_rounds"
        indexes = [
            IndexModel(
                [("doctor_id", ASCENDING), ("ended", ASCENDING), ("start", ASCENDING)],
                name="doctor_running_start",
            ),
        ]


WAITLIST_DOCUMENT_MODELS: list[type[Document]] = [WaitlistEntry, WaitlistEvent, WaitlistRound]
