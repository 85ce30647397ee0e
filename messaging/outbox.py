"""The relay's side of the ``outbox_events`` collection: which rows go next, and what
happened to them.

The unit of work (persistence.store) is the only writer of new rows; the relay only ever
sets ``published_at``, ``attempts``, ``last_error`` and ``parked`` on existing ones, and
``relay republish`` (an operator) puts parked ones back into the queue. It
reads the raw collection (no Beanie), so a row that no longer fits the document class is
still seen, and parked, instead of stopping the relay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from domain.clock import utc

# The collection the unit of work writes rows into (persistence.documents.OutboxEvent).
OUTBOX_COLLECTION = "outbox_events"

# Waiting to be published: never published and not parked. ``published_at: None`` also
# matches a missing field. Parked rows are excluded; they wait for an operator.
UNPUBLISHED: dict[str, Any] = {"published_at": None, "parked": {"$ne": True}}
PARKED: dict[str, Any] = {"published_at": None, "parked": True}
# Oldest first; ``seq`` breaks ties between events of one appointment stamped in the same
# millisecond. Real MongoDB serves this from the ``relay_queue`` index (persistence/
# documents.py); the local stand-in from ``published_retention`` (the unpublished rows
# only), then sorts the few it found. The query names no index: a hint makes the stand-in
# walk the whole index, published rows included (bench/ saw 0.6 s at 20,000 rows, against
# 3 ms unhinted, and the relay runs it for every batch).
QUEUE_ORDER = [("created_at", ASCENDING), ("seq", ASCENDING)]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as the relay sees it. Fields a broken row lacks come out empty, so
    the relay can name the defect and park the row (``publish.defect``)."""

    id: str
    topic: str
    key: str
    seq: int
    created_at: datetime
    envelope: Any  # a dict when the row is sound
    attempts: int

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> OutboxRow:
        created, seq, attempts = doc.get("created_at"), doc.get("seq"), doc.get("attempts")
        topic, key = doc.get("topic"), doc.get("key")
        return cls(
            id=str(doc["_id"]),
            topic=topic if isinstance(topic, str) else "",
            key=key if isinstance(key, str) else "",
            seq=seq if isinstance(seq, int) else 0,
            created_at=utc(created) if isinstance(created, datetime) else _EPOCH,
            envelope=doc.get("envelope"),
            attempts=attempts if isinstance(attempts, int) else 0,
        )


def key_chains(rows: Iterable[OutboxRow]) -> list[list[OutboxRow]]:
    """The rows grouped by key, each group in event order (seq, then created_at for rows
    written before ``seq`` existed), the groups in the order their first row came."""
    chains: dict[str, list[OutboxRow]] = {}
    for row in rows:
        chains.setdefault(row.key, []).append(row)
    return [sorted(chain, key=lambda r: (r.seq, r.created_at)) for chain in chains.values()]


def earlier_rows(batch: Sequence[OutboxRow], others: Iterable[OutboxRow]) -> list[OutboxRow]:
    """Of ``others`` (unpublished rows of the batch's keys outside the batch), those that
    must go before a row of the batch: a lower seq than the batch's latest of that key.

    The queue is ordered by ``created_at``, which comes from the clock of whichever process
    made the change; with skewed clocks a later event of an appointment can look older than
    its predecessor, and the batch limit could cut between them. Pulling the predecessor
    into the batch keeps per-key order without trusting the clocks."""
    latest: dict[str, int] = {}
    for row in batch:
        latest[row.key] = max(latest.get(row.key, row.seq), row.seq)
    return [row for row in others if row.key in latest and row.seq < latest[row.key]]


class OutboxQueue:
    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._rows: AsyncCollection[dict[str, Any]] = database[OUTBOX_COLLECTION]

    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return self._rows

    async def next_batch(self, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` unpublished rows, oldest first, plus any unpublished row of the
        same appointments that must precede them (``earlier_rows``)."""
        found = self._rows.find(UNPUBLISHED, sort=QUEUE_ORDER, limit=limit)
        batch = [OutboxRow.from_document(doc) for doc in await found.to_list()]
        if len(batch) < limit:
            # The batch holds every row waiting at the time of the query; a row committed
            # since comes after all of its appointment's rows, so none can be missing.
            return batch
        # A missing predecessor sorts after the batch's last row, so only rows from its
        # created_at on need a look (a short range of the key_order index per key).
        query = {
            **UNPUBLISHED,
            "key": {"$in": sorted({row.key for row in batch})},
            "created_at": {"$gte": batch[-1].created_at},
            "_id": {"$nin": [row.id for row in batch]},
        }
        others = [OutboxRow.from_document(doc) async for doc in self._rows.find(query)]
        return batch + earlier_rows(batch, others)

    async def mark_published(self, row_ids: Sequence[str], at: datetime) -> None:
        """One write for the whole batch. A row another relay marked first keeps its time."""
        if row_ids:
            await self._rows.update_many(
                {"_id": {"$in": list(row_ids)}, "published_at": None},
                {"$set": {"published_at": at, "last_error": None}},
            )

    async def park(self, row_id: str, error: str) -> None:
        """Take a row out of the queue at once: it can never be published as it is."""
        await self._rows.update_one(
            {"_id": row_id},
            {"$set": {"parked": True, "last_error": error}, "$inc": {"attempts": 1}},
        )

    async def find(self, row_ids: Sequence[str] | None) -> list[dict[str, Any]]:
        """The rows with these ids (those that exist), or every parked row (None); oldest
        first."""
        query = PARKED if row_ids is None else {"_id": {"$in": list(row_ids)}}
        return await self._rows.find(query, sort=QUEUE_ORDER).to_list()

    async def requeue(self, row_ids: Sequence[str]) -> int:
        """Put parked rows back into the queue with their attempts reset: the relay
        publishes them as if new. Only rows still parked (and unpublished) change; returns
        how many did."""
        if not row_ids:
            return 0
        done = await self._rows.update_many(
            {"_id": {"$in": list(row_ids)}, **PARKED},
            {"$set": {"parked": False, "attempts": 0}},
        )
        return done.modified_count

    async def record_failure(self, row_id: str, error: str, max_attempts: int) -> bool:
        """Count a failed attempt; park the row once it failed ``max_attempts`` times.
        True if it is parked now."""
        doc = await self._rows.find_one_and_update(
            {"_id": row_id},
            {"$inc": {"attempts": 1}, "$set": {"last_error": error}},
            projection={"attempts": True},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None or doc.get("attempts", 0) < max_attempts:
            return False
        await self._rows.update_one({"_id": row_id}, {"$set": {"parked": True}})
        return True
