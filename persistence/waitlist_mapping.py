"""Translation between the waitlist's domain objects (domain/waitlist.py) and their Beanie
documents (persistence/waitlist_documents.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from application.ports import OfferRound
from domain.clock import utc
from domain.waitlist import (
    EntryStatus,
    LeftBecause,
    Offer,
    OfferStatus,
    Priority,
    WaitlistEntry,
    WaitlistEvent,
    WaitlistEventType,
)
from messaging.envelope import waitlist_envelope
from persistence import documents as db
from persistence import waitlist_documents as wdb


def _bson_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, dict):
        return {str(k): _bson_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_bson_value(v) for v in value]
    return value


def _instant(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def entry_to_document(entry: WaitlistEntry) -> wdb.WaitlistEntry:
    values = dataclasses.asdict(entry)
    values["offers"] = [wdb.WaitlistOffer(**dataclasses.asdict(o)) for o in entry.offers]
    return wdb.WaitlistEntry(**values)


def offer_from_document(doc: wdb.WaitlistOffer) -> Offer:
    return Offer(
        id=doc.id,
        round_id=doc.round_id,
        start=utc(doc.start),
        end=utc(doc.end),
        offered_at=utc(doc.offered_at),
        expires_at=utc(doc.expires_at),
        status=OfferStatus(doc.status),
        closed_at=_instant(doc.closed_at),
        appointment_id=doc.appointment_id,
    )


def entry_from_document(doc: wdb.WaitlistEntry) -> WaitlistEntry:
    return WaitlistEntry(
        id=doc.id,
        patient_id=doc.patient_id,
        doctor_id=doc.doctor_id,
        earliest_start=utc(doc.earliest_start),
        latest_start=utc(doc.latest_start),
        duration_minutes=doc.duration_minutes,
        priority=Priority(doc.priority),
        status=EntryStatus(doc.status),
        joined_at=utc(doc.joined_at),
        version=doc.version,
        timezone=doc.timezone,
        offers=tuple(offer_from_document(o) for o in doc.offers),
        appointment_id=doc.appointment_id,
        note=doc.note,
        left_because=LeftBecause(doc.left_because) if doc.left_because else None,
        updated_at=_instant(doc.updated_at),
    )


def event_to_document(event: WaitlistEvent) -> wdb.WaitlistEvent:
    return wdb.WaitlistEvent(
        id=event.event_id,
        entry_id=event.entry_id,
        seq=event.seq,
        type=event.type.value,
        occurred_at=utc(event.occurred_at),
        actor=event.actor,
        details=_bson_value(event.details),
    )


def event_from_document(doc: wdb.WaitlistEvent) -> WaitlistEvent:
    return WaitlistEvent(
        event_id=doc.id,
        entry_id=doc.entry_id,
        seq=doc.seq,
        type=WaitlistEventType(doc.type),
        occurred_at=utc(doc.occurred_at),
        actor=doc.actor,
        details=dict(doc.details),
    )


def outbox_row(event: WaitlistEvent, entry: WaitlistEntry, topic: str) -> db.OutboxEvent:
    """The outbox row of one change of an entry: keyed by the entry, so Kafka keeps its
    events in order; ``seq`` keeps them in order in the relay too."""
    return db.OutboxEvent(
        id=event.event_id,
        topic=topic,
        key=event.entry_id,
        seq=event.seq,
        envelope=waitlist_envelope(event, entry),
        created_at=utc(event.occurred_at),
    )


def round_from_document(doc: wdb.WaitlistRound) -> OfferRound:
    return OfferRound(
        round_id=doc.id,
        doctor_id=doc.doctor_id,
        start=utc(doc.start),
        end=utc(doc.end),
        held_until=utc(doc.held_until),
        offer_expires_at=_instant(doc.offer_expires_at),
    )
