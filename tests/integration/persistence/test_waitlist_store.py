"""The waitlist's unit of work (persistence/waitlist_store.py) against the real
wire-protocol server: entry, event and outbox row together or not at all, idempotent by
the event id, one open offer per patient held by the database itself, and the queries
the offer rounds and the use cases read."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from application.ports import EntryFilter, OfferRound
from config import load_settings
from domain.errors import ConcurrencyConflict, DomainError
from domain.waitlist import (
    EntryStatus,
    LeftBecause,
    Offer,
    OfferStatus,
    Priority,
    Slot,
    WaitlistChange,
    WaitlistEntry,
    close_offer,
    join,
    leave,
    make_offer,
)
from messaging.contract import validate_envelope
from persistence.database import connect
from persistence.waitlist_mapping import outbox_row
from persistence.waitlist_store import WaitlistStore

TOPIC = "waitlist.events"
# Milliseconds only: BSON dates keep no more.
T0 = datetime(2030, 1, 1, 8, 0, 0, 123000, tzinfo=UTC)
NINE = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


@dataclass(frozen=True)
class Raw:
    entries: AsyncCollection[dict[str, Any]]
    events: AsyncCollection[dict[str, Any]]
    outbox: AsyncCollection[dict[str, Any]]
    rounds: AsyncCollection[dict[str, Any]]

    async def counts(self) -> tuple[int, int, int]:
        return (
            await self.entries.count_documents({}),
            await self.events.count_documents({}),
            await self.outbox.count_documents({}),
        )


@dataclass(frozen=True)
class Bed:
    store: WaitlistStore
    raw: Raw


@pytest.fixture
async def bed(mongo_uri: str) -> AsyncIterator[Bed]:
    name = f"waitlist_test_{uuid.uuid4().hex[:12]}"
    client: AsyncMongoClient[Any] = await connect(
        load_settings(mongo_uri=mongo_uri, mongo_database=name)
    )
    try:
        db = client[name]
        yield Bed(
            store=WaitlistStore(client, TOPIC),
            raw=Raw(
                entries=db["waitlist_entries"],
                events=db["waitlist_events"],
                outbox=db["outbox_events"],
                rounds=db["waitlist_rounds"],
            ),
        )
        await client.drop_database(name)
    finally:
        await client.close()


def joined(
    entry_id: str = "e-1",
    *,
    patient_id: str = "p-1",
    doctor_id: str = "d-1",
    earliest: datetime = NINE - timedelta(hours=2),
    latest: datetime = NINE + timedelta(hours=2),
    minutes: int = 30,
    priority: Priority = Priority.ROUTINE,
    at: datetime = T0,
) -> WaitlistChange:
    entry = WaitlistEntry(
        id=entry_id,
        patient_id=patient_id,
        doctor_id=doctor_id,
        earliest_start=earliest,
        latest_start=latest,
        duration_minutes=minutes,
        priority=priority,
        status=EntryStatus.WAITING,
        joined_at=at,
        version=0,
        timezone="Europe/Berlin",
        note="knee pain since March",
    )
    return join(entry, f"join/{entry_id}", f"patient:{patient_id}")


def offer(entry: WaitlistEntry, offer_id: str, *, start: datetime = NINE) -> WaitlistChange:
    made = Offer(
        id=offer_id,
        round_id=f"offer-{entry.doctor_id}-{start:%Y%m%dT%H%MZ}",
        start=start,
        end=start + timedelta(minutes=entry.duration_minutes),
        offered_at=T0 + timedelta(minutes=5),
        expires_at=T0 + timedelta(minutes=20),
    )
    return make_offer(entry, made, f"offer/{offer_id}", "system:waitlist")


async def test_a_new_entry_writes_one_of_each_and_its_row_meets_the_contract(bed: Bed) -> None:
    change = joined()
    stored = await bed.store.commit(change)

    assert stored == change.state
    assert await bed.raw.counts() == (1, 1, 1)
    event = await bed.raw.events.find_one({"_id": change.event.event_id})
    assert event is not None
    assert (event["entry_id"], event["seq"], event["type"]) == ("e-1", 1, "waitlist.joined")
    row = await bed.raw.outbox.find_one({"_id": change.event.event_id})
    assert row is not None
    assert (row["topic"], row["key"], row["seq"], row["published_at"]) == (TOPIC, "e-1", 1, None)
    envelope = row["envelope"]
    validate_envelope(envelope)
    assert (envelope["entry_id"], envelope["data"]["status"]) == ("e-1", "WAITING")
    assert "note" not in envelope["data"]
    assert "knee pain" not in json.dumps(envelope)


async def test_an_offer_is_stored_with_the_entry_and_read_back_whole(bed: Bed) -> None:
    entry = await bed.store.commit(joined())
    offered = await bed.store.commit(offer(entry, "o-1"))

    assert offered.status is EntryStatus.OFFERED
    assert offered.open_offer is not None
    assert offered.open_offer.id == "o-1"
    assert await bed.store.get("e-1") == offered
    assert await bed.store.by_offer("o-1") == offered
    assert await bed.store.by_offer("o-unknown") is None
    declined = close_offer(offered, "o-1", OfferStatus.DECLINED, T0, "decline/o-1", "patient:p-1")
    assert declined is not None
    after = await bed.store.commit(declined)
    # A closed offer still finds its entry (an answer to it is told why it is closed).
    assert await bed.store.by_offer("o-1") == after
    assert after.offers[0].status is OfferStatus.DECLINED
    assert await bed.raw.counts() == (1, 3, 3)


async def test_replaying_the_same_change_is_a_no_op(bed: Bed) -> None:
    change = joined()
    first = await bed.store.commit(change)
    assert await bed.store.commit(change) == first
    offered = await bed.store.commit(offer(first, "o-1"))
    # A retry of an older change is recognised by its event id: the stored entry answers.
    assert await bed.store.commit(change) == offered
    assert await bed.store.commit(offer(first, "o-1")) == offered
    assert await bed.raw.counts() == (1, 2, 2)


async def test_a_stale_version_is_a_conflict_and_writes_nothing(bed: Bed) -> None:
    entry = await bed.store.commit(joined())
    offered = await bed.store.commit(offer(entry, "o-1"))
    before = await bed.raw.counts()

    with pytest.raises(ConcurrencyConflict, match="changed since version 1"):
        await bed.store.commit(leave(entry, LeftBecause.ASKED, T0, "leave/e-1", "patient:p-1"))

    assert await bed.raw.counts() == before
    assert await bed.store.get("e-1") == offered


async def test_a_second_entry_with_the_same_id_is_a_conflict(bed: Bed) -> None:
    await bed.store.commit(joined())
    again = joined()
    other = replace(again, event=replace(again.event, event_id=str(uuid.uuid4())))
    with pytest.raises(ConcurrencyConflict, match="already exists"):
        await bed.store.commit(other)
    assert await bed.raw.counts() == (1, 1, 1)


async def test_a_failure_after_the_state_write_leaves_nothing(bed: Bed) -> None:
    """The outbox row is the transaction's last write: planted beforehand, it fails after
    the entry and the event were written, and neither stays."""
    entry = await bed.store.commit(joined())
    change = offer(entry, "o-1")
    planted = outbox_row(change.event, change.state, TOPIC)
    await bed.raw.outbox.insert_one(planted.model_dump(by_alias=True))

    with pytest.raises((DomainError, PyMongoError)):
        await bed.store.commit(change)

    assert await bed.raw.counts() == (1, 1, 2)  # the planted row only
    assert await bed.store.get("e-1") == entry
    assert await bed.raw.events.find_one({"_id": change.event.event_id}) is None


async def test_a_patient_never_holds_two_open_offers(bed: Bed) -> None:
    """Two rounds (two doctors' freed slots) offer to the same patient's two entries at
    once: the unique partial index lets one commit, the other is a conflict."""
    first = await bed.store.commit(joined("e-1", doctor_id="d-1"))
    second = await bed.store.commit(joined("e-2", doctor_id="d-2"))
    other_patient = await bed.store.commit(joined("e-3", patient_id="p-2"))

    results = await asyncio.gather(
        bed.store.commit(offer(first, "o-1")),
        bed.store.commit(offer(second, "o-2")),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, WaitlistEntry)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert isinstance(losers[0], ConcurrencyConflict), repr(losers[0])
    assert "p-1 already holds an open offer" in str(losers[0])
    assert await bed.raw.entries.count_documents({"status": "OFFERED"}) == 1
    assert await bed.raw.counts() == (3, 4, 4)
    # Another patient's offer is unaffected.
    assert (await bed.store.commit(offer(other_patient, "o-3"))).status is EntryStatus.OFFERED
    # Once the open offer closes, the patient's other entry may be offered.
    held = winners[0]
    loser_entry = second if held.id == "e-1" else first
    open_offer = held.open_offer
    assert open_offer is not None
    expired = close_offer(held, open_offer.id, OfferStatus.EXPIRED, T0, "exp", "system:waitlist")
    assert expired is not None
    await bed.store.commit(expired)
    assert (await bed.store.commit(offer(loser_entry, "o-4"))).status is EntryStatus.OFFERED


async def test_waiting_for_a_slot_reads_only_the_matching_waiting_entries(bed: Bed) -> None:
    slot = Slot("d-1", NINE, NINE + timedelta(minutes=30))
    await bed.store.commit(joined("fits"))
    await bed.store.commit(joined("fits-exactly", patient_id="p-2", earliest=NINE, latest=NINE))
    await bed.store.commit(joined("other-doctor", patient_id="p-3", doctor_id="d-2"))
    await bed.store.commit(joined("too-late", patient_id="p-4", earliest=NINE + timedelta(hours=1)))
    await bed.store.commit(
        joined("too-early", patient_id="p-5", latest=NINE - timedelta(minutes=5))
    )
    await bed.store.commit(joined("too-long", patient_id="p-6", minutes=45))
    busy = await bed.store.commit(joined("offered", patient_id="p-7"))
    await bed.store.commit(offer(busy, "o-1"))
    gone = await bed.store.commit(joined("left", patient_id="p-8"))
    await bed.store.commit(leave(gone, LeftBecause.ASKED, T0, "leave/left", "patient:p-8"))

    found = await bed.store.waiting_for(slot)

    assert sorted(e.id for e in found) == ["fits", "fits-exactly"]
    assert all(e.matches(slot) for e in found)


async def test_passed_finds_active_entries_whose_window_is_over(bed: Bed) -> None:
    now = NINE
    await bed.store.commit(joined("future"))  # latest start 11:00 UTC
    await bed.store.commit(joined("ended", patient_id="p-2", latest=now - timedelta(hours=1)))
    await bed.store.commit(joined("just-now", patient_id="p-3", latest=now))
    offered = await bed.store.commit(
        joined("offered", patient_id="p-4", latest=now - timedelta(hours=2))
    )
    await bed.store.commit(offer(offered, "o-1"))
    gone = await bed.store.commit(
        joined("left", patient_id="p-5", earliest=now - timedelta(hours=4), latest=now)
    )
    await bed.store.commit(leave(gone, LeftBecause.ASKED, T0, "leave/left", "patient:p-5"))

    found = await bed.store.passed(now, limit=10)

    assert [e.id for e in found] == ["offered", "ended", "just-now"]
    assert all(e.window_passed(now) for e in found)
    assert [e.id for e in await bed.store.passed(now, limit=2)] == ["offered", "ended"]


async def test_find_pages_by_joined_at_and_id_without_skips_or_repeats(bed: Bed) -> None:
    # Four entries joined at the same instant: only the id orders them.
    ids = ["e-5", "e-1", "e-4", "e-2", "e-3", "e-6"]
    for n, entry_id in enumerate(ids):
        at = T0 if n < 4 else T0 + timedelta(minutes=n)
        doctor = "d-1" if n % 2 == 0 else "d-2"
        await bed.store.commit(joined(entry_id, patient_id=f"p-{n}", doctor_id=doctor, at=at))
    gone = await bed.store.get("e-3")
    assert gone is not None
    await bed.store.commit(leave(gone, LeftBecause.ASKED, T0, "leave/e-3", "staff:s-1"))

    async def walk(where: EntryFilter) -> list[str]:
        seen: list[str] = []
        after: tuple[datetime, str] | None = None
        while page := await bed.store.find(where, after=after, limit=2):
            seen += [e.id for e in page]
            after = (page[-1].joined_at, page[-1].id)
        return seen

    assert await walk(EntryFilter()) == ["e-1", "e-2", "e-4", "e-5", "e-3", "e-6"]
    assert await walk(EntryFilter(doctor_id="d-1")) == ["e-4", "e-5", "e-3"]
    assert await walk(EntryFilter(patient_id="p-1")) == ["e-1"]
    waiting = EntryFilter(statuses=frozenset({EntryStatus.WAITING}))
    assert await walk(waiting) == ["e-1", "e-2", "e-4", "e-5", "e-6"]
    both = EntryFilter(doctor_id="d-1", statuses=frozenset({EntryStatus.LEFT}))
    assert await walk(both) == ["e-3"]


async def test_active_count_counts_waiting_and_offered_entries(bed: Bed) -> None:
    first = await bed.store.commit(joined("e-1", doctor_id="d-1"))
    await bed.store.commit(joined("e-2", doctor_id="d-2"))
    third = await bed.store.commit(joined("e-3", doctor_id="d-3"))
    await bed.store.commit(joined("e-4", patient_id="p-2"))
    await bed.store.commit(offer(first, "o-1"))
    await bed.store.commit(leave(third, LeftBecause.ASKED, T0, "leave/e-3", "patient:p-1"))

    assert await bed.store.active_count("p-1") == 2
    assert await bed.store.active_count("p-2") == 1
    assert await bed.store.active_count("p-unknown") == 0
    # count: what find would page through, whatever the page size
    assert await bed.store.count(EntryFilter(patient_id="p-1")) == 3
    assert await bed.store.count(EntryFilter(statuses=frozenset({EntryStatus.OFFERED}))) == 1
    assert await bed.store.count(EntryFilter(doctor_id="d-3", patient_id="p-2")) == 0


def held(round_id: str, start: datetime, *, minutes: int = 30, doctor: str = "d-1") -> OfferRound:
    return OfferRound(
        round_id=round_id,
        doctor_id=doctor,
        start=start,
        end=start + timedelta(minutes=minutes),
        held_until=start - timedelta(hours=1),
    )


async def test_a_round_holds_its_slot_until_it_ends(bed: Bed) -> None:
    nine = held("offer-d-1-0900", NINE)
    await bed.store.save_round(nine)
    await bed.store.save_round(held("offer-d-2-0900", NINE, doctor="d-2"))
    half_past = NINE + timedelta(minutes=30)

    assert await bed.store.round_holding("d-1", NINE, half_past) == nine
    assert (
        await bed.store.round_holding(
            "d-1", NINE + timedelta(minutes=20), NINE + timedelta(hours=1)
        )
        == nine
    )
    assert (
        await bed.store.round_holding(
            "d-1", NINE - timedelta(minutes=20), NINE + timedelta(minutes=5)
        )
        == nine
    )
    # Adjacent slots do not overlap; other doctors' rounds are theirs.
    assert (
        await bed.store.round_holding("d-1", half_past, half_past + timedelta(minutes=30)) is None
    )
    assert await bed.store.round_holding("d-1", NINE - timedelta(minutes=30), NINE) is None
    assert await bed.store.round_holding("d-3", NINE, half_past) is None

    # Saving again updates (the open offer's expiry) and stays one document.
    offering = replace(nine, offer_expires_at=NINE - timedelta(hours=3))
    await bed.store.save_round(offering)
    await bed.store.save_round(offering)
    assert await bed.raw.rounds.count_documents({"_id": nine.round_id}) == 1
    assert await bed.store.round_holding("d-1", NINE, half_past) == offering

    await bed.store.end_round(nine.round_id)
    first_end = await bed.raw.rounds.find_one({"_id": nine.round_id})
    await bed.store.end_round(nine.round_id)
    await bed.store.end_round("offer-never-saved")
    assert await bed.store.round_holding("d-1", NINE, half_past) is None
    again = await bed.raw.rounds.find_one({"_id": nine.round_id})
    assert first_end is not None
    assert again is not None
    assert again["ended"] is True
    assert again["ended_at"] == first_end["ended_at"]
    assert await bed.raw.rounds.count_documents({}) == 2

    # The slot freed again after its round ended: the same round id holds it again.
    await bed.store.save_round(nine)
    assert await bed.store.round_holding("d-1", NINE, half_past) == nine


async def test_a_round_past_its_held_until_holds_nothing(bed: Bed) -> None:
    """A round that crashed before recording its end: its hold at the Doctor Service
    expired at ``held_until``, so staff are not told the slot is offered any more."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    lapsed = held("offer-d-1-lapsed", start)  # held until an hour before the start: past
    await bed.store.save_round(lapsed)
    assert await bed.store.round_holding("d-1", start, start + timedelta(minutes=30)) is None
