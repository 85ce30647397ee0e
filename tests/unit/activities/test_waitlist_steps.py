"""The offer round's activities (activities/waitlist.py) and the window sweep
(activities/waitlist_sweep.py) on the in-memory waitlist store, which keeps the real
store's promises: an offer goes to the best candidate the store holds, never to a patient
holding another open offer; each event is written once, whatever the retries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.testing import ActivityEnvironment

from activities.models import OfferClosing, OfferOrder, RoundHold
from activities.waitlist import WaitlistActivities
from activities.waitlist_sweep import sweep_once
from config import load_settings
from domain.clock import now_utc
from domain.waitlist import (
    EntryStatus,
    LeftBecause,
    OfferStatus,
    Priority,
    WaitlistEntry,
    WaitlistEventType,
)
from tests.fakes import FakeCalendars
from tests.waitlist_fakes import FakeWaitlistRepository
from workflows.contracts.waitlist import ACTOR, FreedBy, FreedSlot

SETTINGS = load_settings(environment="test")
DOCTOR = "doc-on-call"


def links(offer_id: str, patient_id: str, expires_at: datetime) -> dict[str, str]:
    return {"accept": f"https://clinic.example/o/{offer_id}/{patient_id}/{expires_at:%H%M}"}


def steps(
    store: FakeWaitlistRepository, calendars: FakeCalendars | None = None
) -> WaitlistActivities:
    return WaitlistActivities(store, calendars or FakeCalendars(), SETTINGS, links)


async def waiting(
    store: FakeWaitlistRepository,
    start: datetime,
    patient: str,
    *,
    days_ago: int,
    urgent: bool = False,
) -> WaitlistEntry:
    return await store.plant(
        patient_id=patient,
        doctor_id=DOCTOR,
        earliest_start=start - timedelta(hours=1),
        latest_start=start + timedelta(hours=1),
        priority=Priority.URGENT if urgent else Priority.ROUTINE,
        joined_at=now_utc() - timedelta(days=days_ago),
    )


def order(
    start: datetime, offer_id: str = "offer-1", passed_over: tuple[str, ...] = ()
) -> OfferOrder:
    now = now_utc()
    return OfferOrder(
        round=RoundHold(
            round_id="offer-round",
            doctor_id=DOCTOR,
            start=start,
            end=start + timedelta(minutes=30),
            held_until=start - timedelta(minutes=60),
        ),
        offer_id=offer_id,
        offered_at=now,
        expires_at=now + timedelta(minutes=15),
        passed_over=passed_over,
    )


def offered_events(store: FakeWaitlistRepository) -> list[str]:
    return [e.entry_id for e in store.events.values() if e.type is WaitlistEventType.OFFERED]


async def test_an_offer_goes_to_the_best_candidate_once_with_what_its_notification_needs() -> None:
    store = FakeWaitlistRepository()
    start = (now_utc() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    await waiting(store, start, "pat-long", days_ago=9)
    urgent = await waiting(store, start, "pat-urgent", days_ago=1, urgent=True)
    env = ActivityEnvironment()

    made = await env.run(steps(store).make_offer, order(start))
    again = await env.run(steps(store).make_offer, order(start))  # a retry

    assert made.offer is not None
    assert made == again
    assert (made.offer.entry_id, made.offer.patient_id) == (urgent.id, "pat-urgent")
    assert offered_events(store) == [urgent.id], "a retry writes nothing twice"
    [event] = [e for e in store.events.values() if e.type is WaitlistEventType.OFFERED]
    assert event.actor == ACTOR
    details = event.details
    assert details["offer_id"] == "offer-1"
    assert details["doctor_name"] == (await FakeCalendars().calendar(DOCTOR)).doctor_name
    assert details["local_start"] == start.astimezone(ZoneInfo("Europe/Berlin")).isoformat()
    assert details["links"] == links("offer-1", "pat-urgent", made.offer.expires_at)
    # staff are told until when the slot is offered
    assert store.rounds["offer-round"].offer_expires_at == made.offer.expires_at


async def test_a_patient_holding_another_offer_is_skipped_for_the_next_candidate() -> None:
    store = FakeWaitlistRepository()
    start = (now_utc() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    busy = await waiting(store, start, "pat-busy", days_ago=9)
    other_slot = start + timedelta(hours=1)
    await store.offer(busy, start=other_slot, offered_at=now_utc())  # another round's
    second = await waiting(store, start, "pat-busy", days_ago=8)  # the same patient again
    free = await waiting(store, start, "pat-free", days_ago=1)
    env = ActivityEnvironment()

    made = await env.run(steps(store).make_offer, order(start))

    assert made.offer is not None
    assert made.offer.patient_id == "pat-free"
    assert store.entries[second.id].status is EntryStatus.WAITING
    assert store.entries[free.id].status is EntryStatus.OFFERED


async def test_nobody_left_is_no_offer_and_the_doctor_unnamed_is_named_by_id() -> None:
    store = FakeWaitlistRepository()
    start = (now_utc() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    passed = await waiting(store, start, "pat-1", days_ago=3)
    env = ActivityEnvironment()
    down = FakeCalendars(down=True)

    none = await env.run(steps(store, down).make_offer, order(start, passed_over=(passed.id,)))
    made = await env.run(steps(store, down).make_offer, order(start, "offer-2"))

    assert none.offer is None
    assert made.offer is not None
    [event] = [e for e in store.events.values() if e.type is WaitlistEventType.OFFERED]
    assert event.details["doctor_name"] == DOCTOR


async def test_a_declined_offer_is_closed_once_and_an_early_expiry_says_why() -> None:
    store = FakeWaitlistRepository()
    start = (now_utc() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    entry = await waiting(store, start, "pat-1", days_ago=3)
    env = ActivityEnvironment()
    made = await env.run(steps(store).make_offer, order(start))
    assert made.offer is not None
    closing = OfferClosing(
        entry_id=entry.id,
        offer_id="offer-1",
        outcome=OfferStatus.EXPIRED,
        idempotency_key="offer-round/offer-1/expired",
        reason="booking_failed",
    )

    first = await env.run(steps(store).close_offer, closing)
    again = await env.run(steps(store).close_offer, closing)

    assert (first.closed, again.closed) == (True, False)
    stored = store.entries[entry.id]
    assert (stored.status, stored.offers[0].status) == (EntryStatus.WAITING, OfferStatus.EXPIRED)
    [event] = [e for e in store.events.values() if e.type is WaitlistEventType.OFFER_EXPIRED]
    assert event.details == {"offer_id": "offer-1", "reason": "booking_failed"}


async def test_a_freed_slot_nobody_waits_for_starts_no_round() -> None:
    """No Temporal client is needed: nothing is started."""
    store = FakeWaitlistRepository()
    start = (now_utc() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    await store.plant(  # waits for another doctor
        patient_id="pat-1",
        doctor_id="doc-other",
        earliest_start=start,
        latest_start=start,
        joined_at=now_utc(),
    )
    slot = FreedSlot(
        doctor_id=DOCTOR,
        start=start,
        end=start + timedelta(minutes=30),
        freed_by=FreedBy.CANCELLATION,
    )
    await ActivityEnvironment().run(steps(store).offer_freed_slot, slot)
    assert store.rounds == {}


# --- the window sweep ----------------------------------------------------------------------


async def test_entries_whose_window_passed_leave_once_and_the_others_stay() -> None:
    store = FakeWaitlistRepository()
    now = datetime(2030, 5, 6, 12, tzinfo=UTC)
    past = await store.plant(
        earliest_start=now - timedelta(days=2), latest_start=now - timedelta(hours=1), joined_at=now
    )
    future = await store.plant(
        patient_id="pat-2",
        earliest_start=now,
        latest_start=now + timedelta(days=1),
        joined_at=now,
    )

    assert await sweep_once(store, now) == 1
    assert await sweep_once(store, now) == 0, "a second sweep finds nothing to do"

    left = store.entries[past.id]
    assert (left.status, left.left_because) == (EntryStatus.LEFT, LeftBecause.WINDOW_PASSED)
    assert store.entries[future.id].status is EntryStatus.WAITING
    [event] = [e for e in store.events.values() if e.type is WaitlistEventType.LEFT]
    assert (event.actor, event.details) == (ACTOR, {"because": "window_passed"})


class RacingStore(FakeWaitlistRepository):
    """An entry changes between the sweep's read and its commit."""

    async def passed(self, now: datetime, limit: int) -> list[WaitlistEntry]:
        found = await super().passed(now, limit)
        for entry in found:  # someone else's change commits first
            self.entries[entry.id] = replace(entry, version=entry.version + 1)
        return found


async def test_an_entry_changed_meanwhile_is_left_to_the_next_sweep() -> None:
    store = RacingStore()
    now = datetime(2030, 5, 6, 12, tzinfo=UTC)
    raced = await store.plant(
        earliest_start=now - timedelta(days=2), latest_start=now - timedelta(hours=1), joined_at=now
    )

    assert await sweep_once(store, now) == 0
    assert store.entries[raced.id].status is EntryStatus.WAITING
