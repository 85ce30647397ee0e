"""The waitlist's unit of work: the ONE place that writes waitlist entries, their events
and their outbox rows, always together in one MongoDB transaction (STYLE principle 4),
and the record of the offer rounds holding slots. It is the application layer's
``WaitlistRepository`` (application/ports.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from beanie import SortDirection
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from application.ports import EntryFilter, OfferRound
from domain.clock import now_utc, utc
from domain.errors import ConcurrencyConflict, DomainError
from domain.waitlist import EntryStatus, Slot, WaitlistChange, WaitlistEntry
from persistence import waitlist_documents as wdb
from persistence.unit_of_work import Writes, as_stored, commit_once
from persistence.waitlist_mapping import (
    entry_from_document,
    entry_to_document,
    event_to_document,
    outbox_row,
    round_from_document,
)

# A page is ordered by (joined_at, id): the id breaks ties, so a keyset cursor never skips
# or repeats an entry.
LIST_ORDER = [("joined_at", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)]
ACTIVE = sorted(s.value for s in EntryStatus if s.is_active)


class WaitlistStore:
    def __init__(self, client: AsyncMongoClient[Any], topic: str) -> None:
        self._client = client
        self._topic = topic

    async def get(self, entry_id: str) -> WaitlistEntry | None:
        doc = await wdb.WaitlistEntry.get(entry_id)
        return entry_from_document(doc) if doc else None

    async def by_offer(self, offer_id: str) -> WaitlistEntry | None:
        """The entry that was made the offer ``offer_id`` (the ``offer_id`` index)."""
        doc = await wdb.WaitlistEntry.find_one({"offers.id": offer_id})
        return entry_from_document(doc) if doc else None

    async def find(
        self, where: EntryFilter, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[WaitlistEntry]:
        """Up to ``limit`` entries matching ``where`` in (joined_at, id) order, those after
        the keyset position ``after`` (the (joined_at, id) of the last one seen)."""
        query = wdb.WaitlistEntry.find(find_filter(where, after), hint=index_for(where))
        docs = await query.sort(LIST_ORDER).limit(limit).to_list()
        return [entry_from_document(d) for d in docs]

    async def count(self, where: EntryFilter) -> int:
        """How many entries match ``where``: the same index range as ``find``."""
        query = wdb.WaitlistEntry.find(find_filter(where, None), hint=index_for(where))
        return await query.count()

    async def active_count(self, patient_id: str) -> int:
        """The patient's WAITING and OFFERED entries (the ``patient_status`` index)."""
        return await wdb.WaitlistEntry.find(
            {"patient_id": patient_id, "status": {"$in": ACTIVE}}
        ).count()

    async def waiting_for(self, slot: Slot) -> list[WaitlistEntry]:
        """The WAITING entries of the slot's doctor whose window holds its start and whose
        duration fits: one range of the ``doctor_status_window`` index."""
        docs = await wdb.WaitlistEntry.find(
            {
                "doctor_id": slot.doctor_id,
                "status": EntryStatus.WAITING.value,
                "earliest_start": {"$lte": utc(slot.start)},
                "latest_start": {"$gte": utc(slot.start)},
                "duration_minutes": {"$lte": slot.minutes},
            },
            hint="doctor_status_window",
        ).to_list()
        return [entry_from_document(d) for d in docs]

    async def passed(self, now: datetime, limit: int) -> list[WaitlistEntry]:
        """Up to ``limit`` active entries whose last acceptable start is not after ``now``
        (``WaitlistEntry.window_passed``), the longest passed first."""
        docs = (
            await wdb.WaitlistEntry.find(
                {"status": {"$in": ACTIVE}, "latest_start": {"$lte": utc(now)}},
                hint="status_window_end",
            )
            .sort([("latest_start", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)])
            .limit(limit)
            .to_list()
        )
        return [entry_from_document(d) for d in docs]

    async def commit(self, change: WaitlistChange) -> WaitlistEntry:
        """Write entry, event and outbox row atomically, and return the stored entry.

        Idempotent by the event id: if the event is already stored (a retried activity
        whose first attempt committed), nothing is written and the stored entry is
        returned. Optimistic concurrency: an update applies only while the stored
        ``version`` is still ``change.expected_version``; otherwise ConcurrencyConflict.
        An offer to a patient who holds another open offer hits the unique index
        ``ONE_OPEN_OFFER_INDEX``: ConcurrencyConflict too, saying so."""

        def duplicate(error: DuplicateKeyError) -> DomainError:
            if wdb.ONE_OPEN_OFFER_INDEX in str(error):
                return ConcurrencyConflict(
                    f"patient {change.state.patient_id} already holds an open offer"
                )
            return ConcurrencyConflict("the waitlist entry already exists")

        state = entry_to_document(change.state)
        if await commit_once(self._client, self._writes(change, state), duplicate):
            return entry_from_document(as_stored(self._client, state))
        stored = await self.get(change.state.id)  # a retry: the entry as it is now
        assert stored is not None, "a committed waitlist entry must be readable"
        return stored

    def _writes(self, change: WaitlistChange, state: wdb.WaitlistEntry) -> Writes:
        return Writes(
            state=state,
            expected_version=change.expected_version,
            event=event_to_document(change.event),
            outbox=outbox_row(change.event, change.state, self._topic),
            subject_field="entry_id",
            what="waitlist entry",
        )

    # --- the rounds ---------------------------------------------------------------------

    async def round_holding(
        self, doctor_id: str, start: datetime, end: datetime
    ) -> OfferRound | None:
        """The running round of the doctor whose held [start, end) overlaps [start, end)
        (the one that started first, should two ever overlap). A round past its
        ``held_until`` holds nothing, even one that never recorded its end (a crash): its
        hold at the Doctor Service expired then."""
        doc = await wdb.WaitlistRound.find_one(
            {
                "doctor_id": doctor_id,
                "ended": False,
                "held_until": {"$gt": datetime.now(UTC)},
                "start": {"$lt": utc(end)},
                "end": {"$gt": utc(start)},
            },
            sort=[("start", SortDirection.ASCENDING)],
        )
        return round_from_document(doc) if doc else None

    async def save_round(self, offer_round: OfferRound) -> None:
        """Record the round as holding its slot, or update it (its open offer's expiry):
        an upsert by the round id, so a retry writes the same again. A round id names a
        slot, so a slot freed again after its round ended runs again under it."""
        expires = offer_round.offer_expires_at
        await wdb.WaitlistRound.get_pymongo_collection().update_one(
            {"_id": offer_round.round_id},
            {
                "$set": {
                    "doctor_id": offer_round.doctor_id,
                    "start": utc(offer_round.start),
                    "end": utc(offer_round.end),
                    "held_until": utc(offer_round.held_until),
                    "offer_expires_at": utc(expires) if expires is not None else None,
                    "ended": False,
                    "ended_at": None,
                    "updated_at": now_utc(),
                }
            },
            upsert=True,
        )

    async def end_round(self, round_id: str) -> None:
        """The round let its slot go (or booked it). A second call keeps the first's
        ``ended_at``; a round never saved stays unknown."""
        at = now_utc()
        await wdb.WaitlistRound.get_pymongo_collection().update_one(
            {"_id": round_id, "ended": False},
            {"$set": {"ended": True, "ended_at": at, "offer_expires_at": None, "updated_at": at}},
        )


def index_for(where: EntryFilter) -> str:
    """The index a list query reads, named (as persistence.store does) so the cursor's
    ``$or`` does not keep the planner from it."""
    if where.patient_id is not None:
        return "patient_status"
    if where.doctor_id is not None:
        return "doctor_status_window"
    return "joined_order"


def find_filter(where: EntryFilter, after: tuple[datetime, str] | None) -> dict[str, Any]:
    """The MongoDB filter of ``find``."""
    query: dict[str, Any] = {}
    if where.patient_id is not None:
        query["patient_id"] = where.patient_id
    if where.doctor_id is not None:
        query["doctor_id"] = where.doctor_id
    if where.statuses:
        query["status"] = {"$in": sorted(s.value for s in where.statuses)}
    if after is not None:
        last_joined, last_id = utc(after[0]), after[1]
        query["joined_at"] = {"$gte": last_joined}
        query["$or"] = [{"joined_at": {"$gt": last_joined}}, {"_id": {"$gt": last_id}}]
    return query
