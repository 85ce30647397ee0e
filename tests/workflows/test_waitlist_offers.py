"""SlotOfferWorkflow on the time-skipping test server: whom a freed slot is offered to and
in which order, expiry, decline, an entry that left, the cutoff, quiet hours, a worker
restart, two rounds at once, and exactly one booking of twenty concurrent accepts, through
the booking saga on the round's own hold. The round's activities are fakes of the same
names deciding on an in-memory store (offer_fakes.py); the booking saga's are
tests/workflows/fakes.py's.

Also: the sagas that free a slot offer it to the waitlist, and never fail for it."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from domain.events import EventContext
from domain.waitlist import EntryStatus, OfferStatus, Priority, WaitlistEventType
from tests.waiting import eventually_async
from tests.workflows.fakes import FakeWorld, refusal
from tests.workflows.journey_fakes import definitions
from tests.workflows.offer_fakes import RoundWorld, real_round_activities
from tests.workflows.server import ENCRYPTED
from tests.workflows.test_booking_workflow import request as booking_request
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.contracts import waitlist
from workflows.contracts.booking import BookingOutcome, WaitlistHold
from workflows.contracts.cancellation import CancellationOutcome, CancellationRequest
from workflows.contracts.reschedule import RescheduleRequest
from workflows.contracts.waitlist import (
    AcceptOffer,
    BookingTerms,
    DeclineOffer,
    FreedBy,
    FreedSlot,
    OfferAccepted,
    OfferRoundRequest,
    OfferTerms,
    RoundOutcome,
    WaitlistStatus,
)
from workflows.offer_rounds import start_round
from workflows.reschedule import RescheduleWorkflow
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, NEEDS_ATTENTION, WAITLIST_STATUS
from workflows.waitlist_offers import BOOKING_GRACE, OFFERS_PER_RUN, SlotOfferWorkflow

BERLIN = ZoneInfo("Europe/Berlin")
WORKFLOWS = [SlotOfferWorkflow, BookingWorkflow, CancellationWorkflow, RescheduleWorkflow]
OFFER = timedelta(minutes=15)
CALLER = EventContext(actor="patient:test", request_id="req-1")
NO_QUIET_HOURS = OfferTerms(offer_minutes=15, cutoff_minutes=60, quiet_hours=None)

Round = WorkflowHandle[SlotOfferWorkflow, RoundOutcome]


def new_queue() -> str:
    return f"q-{uuid.uuid4()}"


def saga_world() -> FakeWorld:
    # The round holds its slot until the cutoff: a day in these tests at most.
    return FakeWorld(hold_lifetime=timedelta(days=2))


@asynccontextmanager
async def worker(
    env: WorkflowEnvironment, world: RoundWorld, saga: FakeWorld, queue: str, sticky: bool = True
) -> AsyncIterator[None]:
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=[*world.activities(), *saga.activities()],
        max_cached_workflows=1000 if sticky else 0,
    ):
        yield


def freed(start: datetime, doctor_id: str = "doc-1") -> FreedSlot:
    return FreedSlot(
        doctor_id=doctor_id,
        start=start,
        end=start + timedelta(minutes=30),
        freed_by=FreedBy.CANCELLATION,
        appointment_id="appt-cancelled",
    )


async def start(
    env: WorkflowEnvironment,
    queue: str,
    slot: FreedSlot,
    terms: OfferTerms = NO_QUIET_HOURS,
) -> Round:
    request = OfferRoundRequest(
        slot=slot, terms=terms, booking=BookingTerms(), freed_at=await env.get_current_time()
    )
    # start_round's handle: on this server, awaiting its result lets the clock skip
    handle: Round = await start_round(env.client, queue, request)
    return handle


async def offered(world: RoundWorld, count: int) -> list[str]:
    """Wait until ``count`` offers were made; the offers' ids, oldest first."""
    await world.called("make_offer", count)

    async def made() -> list[str] | None:
        offers = sorted(
            (offer for entry in world.store.entries.values() for offer in entry.offers),
            key=lambda offer: offer.offered_at,
        )
        return [offer.id for offer in offers] if len(offers) >= count else None

    return await eventually_async(made, 30.0, f"{count} offers")


async def the_day_after(env: WorkflowEnvironment, hour: int = 14) -> datetime:
    """``hour``:00 Berlin time the day after the test server's today, as a UTC instant."""
    now = await env.get_current_time()
    day = now.astimezone(BERLIN).date() + timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=BERLIN).astimezone(UTC)


async def waiting(
    env: WorkflowEnvironment, world: RoundWorld, slot_start: datetime, *patients: str
) -> dict[str, str]:
    """Routine entries of ``patients`` whose window holds the slot, joined in that order
    a minute apart; patient -> entry id."""
    now = await env.get_current_time()
    ids = {}
    for i, patient in enumerate(patients):
        entry = await world.wait(
            patient,
            earliest=slot_start - timedelta(hours=2),
            latest=slot_start + timedelta(hours=2),
            joined_at=now - timedelta(days=10) + timedelta(minutes=i),
        )
        ids[patient] = entry.id
    return ids


def accept(offer_id: str, patient_id: str) -> AcceptOffer:
    return AcceptOffer(offer_id=offer_id, patient_id=patient_id, caller=CALLER)


def refusal_type(error: BaseException) -> str | None:
    assert isinstance(error, WorkflowUpdateFailedError), error
    cause = error.cause
    assert isinstance(cause, ApplicationError)
    return cause.type


async def replays(handle: WorkflowHandle[Any, Any]) -> None:
    """The run's history replays on today's code (a non-determinism error fails)."""
    replayer = Replayer(workflows=WORKFLOWS, data_converter=ENCRYPTED)
    await replayer.replay_workflow(await handle.fetch_history())


def test_the_fakes_have_the_real_activities_names_and_inputs() -> None:
    assert definitions(*RoundWorld().activities()) == real_round_activities()


# --- whom, in which order ------------------------------------------------------------------


async def test_urgent_first_then_the_longest_waiting_each_offer_expiring_to_the_next(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    entries = await waiting(workflow_env, world, slot_start, "routine-first", "routine-second")
    now = await workflow_env.get_current_time()
    urgent = await world.wait(
        "urgent-last",
        earliest=slot_start - timedelta(hours=1),
        latest=slot_start,
        joined_at=now,
        priority=Priority.URGENT,
    )
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start))
        outcome = await handle.result()
        await replays(handle)

    assert outcome.status is WaitlistStatus.NO_CANDIDATE
    assert outcome.offers_made == 3
    assert world.offered_patients() == ["urgent-last", "routine-first", "routine-second"]
    # each the moment the one before expired (within the workflow task that saw it)
    times = [at for _, at in world.offers()]
    for before, after in itertools.pairwise(times):
        assert OFFER <= after - before < OFFER + timedelta(seconds=1)
    for entry_id in [*entries.values(), urgent.id]:
        entry = world.entry(entry_id)
        assert entry.status is EntryStatus.WAITING
        assert [offer.status for offer in entry.offers] == [OfferStatus.EXPIRED]
    # held once, for the waitlist, until the cutoff; released at the end, the round ended
    [hold] = saga.inputs_of("reserve_slot")
    assert (hold.patient_id, hold.start) == ("waitlist", slot_start)
    assert hold.ttl_seconds is not None
    # it outlives the cutoff by the grace an offer accepted in its last second needs
    held_until = times[0] + timedelta(seconds=hold.ttl_seconds)
    cutoff = slot_start - timedelta(minutes=60)
    assert abs(held_until - (cutoff + BOOKING_GRACE)) < timedelta(seconds=2)
    assert hold.idempotency_key.startswith(f"{handle.id}/")
    assert saga.calls == ["reserve_slot", "release_hold:hold-1"]
    assert [end.outcome for end in world.ended] == [WaitlistStatus.NO_CANDIDATE]
    assert world.store.rounds == {}
    [save] = world.of("save_offer_round")
    assert save.arg.held_until == slot_start - timedelta(minutes=60)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(WAITLIST_STATUS) == "NO_CANDIDATE"
    assert attributes.get(DOCTOR_ID) == "doc-1"


async def test_nobody_waiting_ends_the_round_without_holding_the_slot(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await world.wait(  # another doctor's
        "elsewhere",
        earliest=slot_start,
        latest=slot_start,
        joined_at=slot_start - timedelta(days=3),
        doctor_id="doc-2",
    )
    async with worker(workflow_env, world, saga, queue):
        outcome = await (await start(workflow_env, queue, freed(slot_start))).result()
    assert outcome.status is WaitlistStatus.NO_CANDIDATE
    assert saga.calls == []
    assert world.of("save_offer_round") == []


async def test_a_slot_that_is_not_free_to_hold_ends_the_round_slot_taken(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await waiting(workflow_env, world, slot_start, "anna")
    saga.failures["reserve_slot"] = [refusal("SlotUnavailable", "booked by staff")]
    async with worker(workflow_env, world, saga, queue):
        outcome = await (await start(workflow_env, queue, freed(slot_start))).result()
    assert outcome.status is WaitlistStatus.SLOT_TAKEN
    assert saga.calls == ["reserve_slot"], "nothing of the round's to release"
    assert world.offers() == []
    assert world.store.rounds == {}


async def test_the_cutoff_ends_the_round_and_releases_the_hold(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The slot starts 80 minutes from now, the cutoff is 60 before: the first offer ends
    5 minutes before the cutoff; the next would end after it, so nobody gets it."""
    now = await workflow_env.get_current_time()
    slot_start = now.replace(second=0, microsecond=0) + timedelta(minutes=80)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    entries = await waiting(workflow_env, world, slot_start, "anna", "ben")
    async with worker(workflow_env, world, saga, queue):
        outcome = await (await start(workflow_env, queue, freed(slot_start))).result()
    assert outcome.status is WaitlistStatus.CUTOFF
    assert world.offered_patients() == ["anna"]
    assert world.entry(entries["anna"]).offers[0].status is OfferStatus.EXPIRED
    assert world.entry(entries["ben"]).offers == ()
    assert saga.calls == ["reserve_slot", "release_hold:hold-1"]
    assert [end.outcome for end in world.ended] == [WaitlistStatus.CUTOFF]


async def test_a_round_past_its_cutoff_does_nothing(workflow_env: WorkflowEnvironment) -> None:
    now = await workflow_env.get_current_time()
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await waiting(workflow_env, world, now + timedelta(minutes=30), "anna")
    async with worker(workflow_env, world, saga, queue):
        outcome = await (
            await start(workflow_env, queue, freed(now + timedelta(minutes=30)))
        ).result()
    assert outcome.status is WaitlistStatus.CUTOFF
    assert saga.calls == []
    assert world.offers() == []


# --- answers -------------------------------------------------------------------------------


async def test_a_decline_moves_to_the_next_candidate_at_once(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    entries = await waiting(workflow_env, world, slot_start, "anna", "ben")
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start))
        [first] = await offered(world, 1)
        decline = DeclineOffer(offer_id=first, patient_id="anna", caller=CALLER)
        await handle.execute_update(waitlist.DECLINE_UPDATE, decline)
        # the store has it declined when the update answers
        assert world.entry(entries["anna"]).offers[0].status is OfferStatus.DECLINED
        await offered(world, 2)
        view = await handle.query(SlotOfferWorkflow.view)
        assert view.status is WaitlistStatus.OFFERED
        assert view.offer is not None
        assert view.offer.patient_id == "ben"
        assert view.passed_over == (entries["anna"],)
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await handle.execute_update(waitlist.DECLINE_UPDATE, decline)
        assert refusal_type(again.value) == waitlist.OFFER_CLOSED
        outcome = await handle.result()
    assert outcome.status is WaitlistStatus.NO_CANDIDATE
    [(_, anna_at), (_, ben_at)] = world.offers()
    assert ben_at - anna_at < OFFER, "ben's offer did not wait for anna's to expire"
    [closing, _] = world.of("close_offer")
    assert closing.arg.outcome is OfferStatus.DECLINED


async def test_an_entry_that_left_mid_offer_moves_the_round_on(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    entries = await waiting(workflow_env, world, slot_start, "anna", "ben")
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start))
        [first] = await offered(world, 1)
        world.leave(entries["anna"], await workflow_env.get_current_time())
        await handle.signal(waitlist.ENTRY_LEFT_SIGNAL, first)
        await offered(world, 2)
        outcome = await handle.result()
    assert outcome.status is WaitlistStatus.NO_CANDIDATE
    assert world.offered_patients() == ["anna", "ben"]
    [(_, anna_at), (_, ben_at)] = world.offers()
    assert ben_at - anna_at < OFFER
    anna = world.entry(entries["anna"])
    assert (anna.status, anna.offers[0].status) == (EntryStatus.LEFT, OfferStatus.WITHDRAWN)
    # the store withdrew anna's offer: the round closed only ben's
    assert [c.arg.entry_id for c in world.of("close_offer")] == [entries["ben"]]


async def test_twenty_concurrent_accepts_book_once_on_the_rounds_hold(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    entries = await waiting(workflow_env, world, slot_start, "anna", "ben")
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start))
        [offer_id] = await offered(world, 1)
        answers = await asyncio.gather(
            *(
                handle.execute_update(
                    waitlist.ACCEPT_UPDATE, accept(offer_id, "anna"), result_type=OfferAccepted
                )
                for _ in range(20)
            ),
            return_exceptions=True,
        )
        outcome = await handle.result()
        await replays(handle)

    booked = [a for a in answers if isinstance(a, OfferAccepted)]
    refused = [refusal_type(a) for a in answers if not isinstance(a, OfferAccepted)]
    assert len(booked) == 1
    assert refused == [waitlist.OFFER_CLOSED] * 19
    [answer] = booked
    assert outcome.status is WaitlistStatus.BOOKED
    assert outcome.appointment_id == answer.appointment_id
    # one booking, on the round's hold: never checked, held again, nor released
    assert saga.calls.count("persist_pending") == 1
    assert "check_availability" not in saga.calls
    assert saga.calls.count("reserve_slot") == 1  # the round's own
    assert not [c for c in saga.calls if c.startswith("release")]
    [confirm] = saga.inputs_of("confirm_slot")
    assert confirm.hold_id == "hold-1"
    [pending] = saga.inputs_of("persist_pending")
    assert (pending.patient_id, pending.start, pending.hold_id) == ("anna", slot_start, "hold-1")
    anna = world.entry(entries["anna"])
    assert anna.status is EntryStatus.FULFILLED
    assert anna.appointment_id == answer.appointment_id
    assert world.entry(entries["ben"]).offers == ()
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(WAITLIST_STATUS) == "BOOKED"
    assert attributes.get(APPOINTMENT_ID) == answer.appointment_id
    child = workflow_env.client.get_workflow_handle_for(
        BookingWorkflow.run, f"booking-waitlist-{offer_id}"
    )
    assert isinstance(await child.result(), BookingOutcome)


async def test_a_booking_refused_answers_the_accept_and_offers_the_slot_to_the_next(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    entries = await waiting(workflow_env, world, slot_start, "anna", "ben")
    saga.failures["validate_patient"] = [refusal("PatientNotFound", "no such patient")]
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start))
        [offer_id] = await offered(world, 1)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                waitlist.ACCEPT_UPDATE, accept(offer_id, "anna"), result_type=OfferAccepted
            )
        assert refusal_type(refused.value) == "PatientNotFound"
        [_, ben_offer] = await offered(world, 2)
        await handle.execute_update(
            waitlist.ACCEPT_UPDATE, accept(ben_offer, "ben"), result_type=OfferAccepted
        )
        outcome = await handle.result()
    assert outcome.status is WaitlistStatus.BOOKED
    anna = world.entry(entries["anna"])
    assert (anna.status, anna.offers[0].status) == (EntryStatus.WAITING, OfferStatus.EXPIRED)
    [closing] = world.of("close_offer")
    assert closing.arg.reason == "booking_failed"
    assert world.entry(entries["ben"]).status is EntryStatus.FULFILLED
    assert saga.calls.count("reserve_slot") == 1
    assert not [c for c in saga.calls if c.startswith("release")]


async def test_an_accept_after_expiry_is_refused_expired_and_others_offers_are_not_found(
    workflow_env: WorkflowEnvironment,
) -> None:
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await waiting(workflow_env, world, slot_start, "anna", "ben")
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start))
        [anna_offer] = await offered(world, 1)
        await workflow_env.sleep(OFFER + timedelta(minutes=1))
        [_, ben_offer] = await offered(world, 2)
        for offer_id, patient, expected in [
            (anna_offer, "anna", waitlist.OFFER_EXPIRED),
            (ben_offer, "anna", waitlist.OFFER_NOT_FOUND),  # someone else's
            ("no-such-offer", "anna", waitlist.OFFER_NOT_FOUND),
        ]:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    waitlist.ACCEPT_UPDATE, accept(offer_id, patient), result_type=OfferAccepted
                )
            assert refusal_type(refused.value) == expected, offer_id
        outcome = await handle.result()
    assert outcome.status is WaitlistStatus.NO_CANDIDATE
    assert "persist_pending" not in saga.calls


# --- time ----------------------------------------------------------------------------------


async def test_quiet_hours_delay_the_first_offer_until_they_end(
    workflow_env: WorkflowEnvironment,
) -> None:
    """Freed at 22:00 Berlin time for 14:00 the next day: the offer goes out at 08:00."""
    now = await workflow_env.get_current_time()
    day = now.astimezone(BERLIN).date() + timedelta(days=1)
    await workflow_env.sleep(datetime.combine(day, time(22), tzinfo=BERLIN) - now)
    slot_start = datetime.combine(day + timedelta(days=1), time(14), tzinfo=BERLIN)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await waiting(workflow_env, world, slot_start.astimezone(UTC), "anna")
    terms = NO_QUIET_HOURS.model_copy(update={"quiet_hours": "21:00-08:00"})
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start.astimezone(UTC)), terms)
        await world.called("save_offer_round")

        async def quiet() -> bool:
            view = await handle.query(SlotOfferWorkflow.view)
            return view.status is WaitlistStatus.QUIET

        await eventually_async(quiet, 10.0, "the round waits for the quiet hours to end")
        assert (await handle.describe()).typed_search_attributes.get(WAITLIST_STATUS) == "QUIET"
        assert world.offers() == []
        outcome = await handle.result()
    assert outcome.status is WaitlistStatus.NO_CANDIDATE
    [(_, at)] = world.offers()
    eight = datetime.combine(day + timedelta(days=1), time(8), BERLIN)
    assert eight <= at < eight + timedelta(seconds=1)  # in the task that woke at 08:00


async def test_a_worker_restart_mid_offer_goes_on_where_it_was(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The worker stops while anna's offer is open; a new worker, with nothing cached,
    picks the round up from its history: anna's offer expires under it, ben gets the
    slot. Time is skipped only while a worker polls: the time-skipping server, asked to
    skip with no worker and a workflow task outstanding, can hang until its RPC times out
    (seen in CI), which says nothing about the round."""
    slot_start = await the_day_after(workflow_env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    entries = await waiting(workflow_env, world, slot_start, "anna", "ben")
    async with worker(workflow_env, world, saga, queue, sticky=False):
        handle = await start(workflow_env, queue, freed(slot_start))
        await offered(world, 1)
    view_calls = len(world.calls)
    async with worker(workflow_env, world, saga, queue, sticky=False):
        await workflow_env.sleep(OFFER + timedelta(minutes=1))
        [_, ben_offer] = await offered(world, 2)
        await handle.execute_update(
            waitlist.ACCEPT_UPDATE, accept(ben_offer, "ben"), result_type=OfferAccepted
        )
        outcome = await handle.result()
    assert outcome.status is WaitlistStatus.BOOKED
    assert world.offered_patients() == ["anna", "ben"]
    assert [call.name for call in world.calls[view_calls:]][:2] == ["close_offer", "make_offer"]
    assert world.entry(entries["anna"]).offers[0].status is OfferStatus.EXPIRED
    assert world.entry(entries["ben"]).status is EntryStatus.FULFILLED
    assert saga.calls.count("reserve_slot") == 1


async def test_two_slots_freed_at_once_go_to_two_patients_never_one_twice_at_once(
    workflow_env: WorkflowEnvironment,
) -> None:
    """Anna and Ben both wait for either slot; Anna waited longer. Both rounds want Anna
    first: the store gives her one open offer, the other round offers Ben."""
    first = await the_day_after(workflow_env)
    second = first + timedelta(minutes=30)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await waiting(workflow_env, world, first, "anna", "ben")
    async with worker(workflow_env, world, saga, queue):
        rounds = await asyncio.gather(
            start(workflow_env, queue, freed(first)), start(workflow_env, queue, freed(second))
        )
        await offered(world, 2)
        open_now = [
            (entry.patient_id, offer.round_id)
            for entry in world.store.entries.values()
            for offer in entry.offers
            if offer.status is OfferStatus.OPEN
        ]
        assert sorted(patient for patient, _ in open_now) == ["anna", "ben"]
        assert len({round_id for _, round_id in open_now}) == 2
        outcomes = [await handle.result() for handle in rounds]
    assert {outcome.status for outcome in outcomes} == {WaitlistStatus.NO_CANDIDATE}
    # in the store's order of commits, a patient never holds two open offers
    patient_of = {entry.id: entry.patient_id for entry in world.store.entries.values()}
    holding = {patient: 0 for patient in patient_of.values()}
    for event in world.store.events.values():
        patient = patient_of[event.entry_id]
        if event.type is WaitlistEventType.OFFERED:
            holding[patient] += 1
            assert holding[patient] == 1, f"{patient} holds two offers"
        elif event.type is not WaitlistEventType.JOINED:
            holding[patient] = 0
    assert saga.calls.count("reserve_slot") == 2
    assert saga.calls.count("release_hold:hold-1") == 2


# --- replay ---------------------------------------------------------------------------------


async def round_history(env: WorkflowEnvironment) -> WorkflowHistory:
    """A round as record_histories.py keeps it: the first candidate declines, the second
    lets the offer expire, the third accepts and the booking saga books on the round's
    hold."""
    slot_start = await the_day_after(env)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await waiting(env, world, slot_start, "anna", "ben", "carl")
    async with worker(env, world, saga, queue):
        handle = await start(env, queue, freed(slot_start))
        [first] = await offered(world, 1)
        decline = DeclineOffer(offer_id=first, patient_id="anna", caller=CALLER)
        await handle.execute_update(waitlist.DECLINE_UPDATE, decline)
        await offered(world, 2)
        await env.sleep(OFFER + timedelta(minutes=1))
        [*_, third] = await offered(world, 3)
        await handle.execute_update(
            waitlist.ACCEPT_UPDATE, accept(third, "carl"), result_type=OfferAccepted
        )
        outcome = await handle.result()
    assert outcome.status is WaitlistStatus.BOOKED
    return await handle.fetch_history()


async def test_a_rounds_history_replays_deterministically(
    workflow_env: WorkflowEnvironment,
) -> None:
    history = await round_history(workflow_env)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=ENCRYPTED)
    await replayer.replay_workflow(history)


async def test_a_long_round_continues_as_new_with_its_hold_and_whom_it_passed_over(
    workflow_env: WorkflowEnvironment,
) -> None:
    """More candidates than one run offers to: the next run goes on with the same hold,
    never offers the slot to anyone twice, and a slot freed again joins the running
    round."""
    count = OFFERS_PER_RUN + 2
    slot_start = await the_day_after(workflow_env) + timedelta(days=2)
    world, saga, queue = RoundWorld(), saga_world(), new_queue()
    await waiting(workflow_env, world, slot_start, *(f"pat-{i:02}" for i in range(count)))
    async with worker(workflow_env, world, saga, queue):
        handle = await start(workflow_env, queue, freed(slot_start))
        await offered(world, 1)
        again = await start(workflow_env, queue, freed(slot_start))  # freed again: joins
        assert again.result_run_id == handle.result_run_id
        outcome = await handle.result()
        history = await handle.fetch_history()
    assert outcome.status is WaitlistStatus.NO_CANDIDATE
    assert outcome.offers_made == count
    assert world.offered_patients() == [f"pat-{i:02}" for i in range(count)]
    assert saga.calls == ["reserve_slot", "release_hold:hold-1"]
    [run] = [e for e in history.events if e.HasField("workflow_execution_started_event_attributes")]
    assert run.workflow_execution_started_event_attributes.continued_execution_run_id


async def test_a_reschedule_offers_the_old_slot(workflow_env: WorkflowEnvironment) -> None:
    saga, queue = saga_world(), new_queue()
    new_start = saga.start + timedelta(days=1)
    request = RescheduleRequest(appointment_id="a", start=new_start, fingerprint="f", caller=CALLER)
    async with worker(workflow_env, RoundWorld(), saga, queue):
        handle = await workflow_env.client.start_workflow(
            RescheduleWorkflow.run, request, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        await handle.result()
    [slot] = saga.inputs_of("offer_freed_slot")
    assert (slot.start, slot.end, slot.freed_by) == (
        saga.start,
        saga.start + timedelta(minutes=30),
        FreedBy.RESCHEDULE,
    )


# --- the booking saga on the round's hold ---------------------------------------------------


async def test_a_booking_on_a_waitlist_hold_neither_takes_nor_releases_a_hold(
    workflow_env: WorkflowEnvironment,
) -> None:
    now = await workflow_env.get_current_time()
    hold = WaitlistHold(
        hold_id="hold-w", expires_at=now + timedelta(hours=5), round_id="r", offer_id="o"
    )
    request = booking_request().model_copy(update={"waitlist": hold})
    # Billing refuses for good: no retry waits (in which the test server could skip to the
    # hold's expiry instead)
    billing_refuses = {"create_invoice": [refusal("PeerContractError", "billing refuses")]}
    for failures, fails in [({}, False), (billing_refuses, True)]:
        saga, queue = saga_world(), new_queue()
        saga.failures = {step: list(errors) for step, errors in failures.items()}
        # No skipping: the server may skip to the hold's expiry while a step runs.
        with workflow_env.auto_time_skipping_disabled():
            async with worker(workflow_env, RoundWorld(), saga, queue):
                handle = await workflow_env.client.start_workflow(
                    BookingWorkflow.run, request, id=f"wf-{uuid.uuid4()}", task_queue=queue
                )
                if fails:
                    with pytest.raises(WorkflowFailureError) as failed:
                        await handle.result()
                    assert "billing refuses" in str(failed.value.cause), failed.value.cause
                else:
                    assert isinstance(await handle.result(), BookingOutcome)
        assert not {"check_availability", "reserve_slot", "release_slot"} & set(saga.calls)
        assert not [c for c in saga.calls if c.startswith("release")]
        assert [a.hold_id for a in saga.inputs_of("persist_pending")] == ["hold-w"], saga.calls
        if fails:
            assert {"mark_failed", "void_invoice"} <= set(saga.completed)
            assert "confirm_slot" not in saga.calls
            assert "offer_freed_slot" not in saga.calls, "the round offers its slot itself"
        else:
            assert [a.hold_id for a in saga.inputs_of("confirm_slot")] == ["hold-w"]


# --- the sagas that free a slot ------------------------------------------------------------


async def test_a_cancellation_offers_its_slot_and_stands_when_that_fails(
    workflow_env: WorkflowEnvironment,
) -> None:
    request = CancellationRequest(appointment_id="a", fingerprint="f", caller=CALLER)
    for fails in (False, True):
        saga, queue = saga_world(), new_queue()
        if fails:
            saga.always_fail["offer_freed_slot"] = refusal("PeerContractError", "no Temporal")
        async with worker(workflow_env, RoundWorld(), saga, queue):
            handle = await workflow_env.client.start_workflow(
                CancellationWorkflow.run, request, id=f"wf-{uuid.uuid4()}", task_queue=queue
            )
            outcome = await handle.result()
        assert isinstance(outcome, CancellationOutcome)
        assert outcome.status == "CANCELLED"
        [slot] = saga.inputs_of("offer_freed_slot")
        assert slot == FreedSlot(
            doctor_id="doc-1",
            start=saga.start,
            end=saga.start + timedelta(minutes=30),
            freed_by=FreedBy.CANCELLATION,
            appointment_id="a",
        )
        assert saga.calls.index("release_hold:hold-old") < saga.calls.index("offer_freed_slot")
        attention = (await handle.describe()).typed_search_attributes.get(NEEDS_ATTENTION)
        assert attention == ("offer_freed_slot" if fails else None)
