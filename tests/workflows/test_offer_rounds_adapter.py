"""The API's adapter of the offer rounds (``adapters.temporal.TemporalOfferRounds``) on the
test server, against a stand-in round that keeps the contract (workflows/contracts/
waitlist.py: its name, signals and updates) and answers as each test needs: an accept
becomes OfferAccepted; the round's refusals become the domain's errors and a booking's
refusal the booking's error; an update the round took but had not answered within the
budget is "still booking"; a round that has ended is RoundEnded; a leaving entry's signal
never raises; and a freed slot starts the slot's round with signal-with-start."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from adapters.temporal import TemporalOfferRounds
from application.ports import RoundEnded
from config import load_settings
from domain.errors import SlotUnavailable
from domain.events import EventContext
from domain.waitlist import (
    EntryStatus,
    Offer,
    OfferClosed,
    OfferExpired,
    OfferNotFound,
    Priority,
    WaitlistEntry,
)
from workflows.contracts import waitlist
from workflows.contracts.waitlist import (
    AcceptOffer,
    DeclineOffer,
    FreedBy,
    FreedSlot,
    OfferAccepted,
    OfferRoundRequest,
)

# What the stand-in round answers an offer, by the offer id's first word.
REFUSED_BY_VALIDATOR = {
    "expired": waitlist.OFFER_EXPIRED,
    "closed": waitlist.OFFER_CLOSED,
    "missing": waitlist.OFFER_NOT_FOUND,
}


@workflow.defn(name=waitlist.WORKFLOW)
class StandInRound:
    def __init__(self) -> None:
        self.left: list[str] = []
        self.freed: list[FreedSlot] = []
        self.ended = False

    @workflow.run
    async def run(self, request: OfferRoundRequest) -> None:
        await workflow.wait_condition(lambda: self.ended)

    @workflow.signal(name=waitlist.SLOT_FREED_SIGNAL)
    def slot_freed(self, slot: FreedSlot) -> None:
        self.freed.append(slot)

    @workflow.signal(name=waitlist.ENTRY_LEFT_SIGNAL)
    def entry_left(self, offer_id: str) -> None:
        self.left.append(offer_id)

    @workflow.signal(name="end")
    def end(self) -> None:
        self.ended = True

    @workflow.query(name="told")
    def told(self) -> tuple[list[str], int]:
        return self.left, len(self.freed)

    @workflow.update(name=waitlist.ACCEPT_UPDATE)
    async def accept(self, accept: AcceptOffer) -> OfferAccepted:
        kind = accept.offer_id.split("-", 1)[0]
        if kind == "taken":
            raise ApplicationError("the slot is taken", type="SlotUnavailable", non_retryable=True)
        if kind == "slow":
            await workflow.wait_condition(lambda: self.ended)
        return OfferAccepted(offer_id=accept.offer_id, appointment_id="appointment-1")

    @accept.validator
    def _may_accept(self, accept: AcceptOffer) -> None:
        kind = accept.offer_id.split("-", 1)[0]
        if kind in REFUSED_BY_VALIDATOR:
            raise ApplicationError(
                f"the offer was {kind}", type=REFUSED_BY_VALIDATOR[kind], non_retryable=True
            )

    @workflow.update(name=waitlist.DECLINE_UPDATE)
    async def decline(self, decline: DeclineOffer) -> None:
        if decline.offer_id.startswith("closed"):
            raise ApplicationError("declined", type=waitlist.OFFER_CLOSED, non_retryable=True)


START = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
SETTINGS = load_settings(environment="test")
CALLER = EventContext(actor="patient:pat-1")


def freed() -> FreedSlot:
    doctor = f"doc-{uuid.uuid4().hex[:8]}"
    return FreedSlot(
        doctor_id=doctor,
        start=START,
        end=START + timedelta(minutes=15),
        freed_by=FreedBy.CANCELLATION,
    )


def entry_offered(round_id: str, offer_id: str) -> WaitlistEntry:
    offer = Offer(
        id=offer_id,
        round_id=round_id,
        start=START,
        end=START + timedelta(minutes=15),
        offered_at=START - timedelta(days=1),
        expires_at=START - timedelta(days=1) + timedelta(minutes=15),
    )
    return WaitlistEntry(
        id=str(uuid.uuid4()),
        patient_id="pat-1",
        doctor_id="doc-1",
        earliest_start=START,
        latest_start=START,
        duration_minutes=15,
        priority=Priority.ROUTINE,
        status=EntryStatus.OFFERED,
        joined_at=START - timedelta(days=2),
        version=2,
        timezone="Europe/Berlin",
        offers=(offer,),
    )


def accept(offer_id: str) -> AcceptOffer:
    return AcceptOffer(offer_id=offer_id, patient_id="pat-1", caller=CALLER)


async def test_the_adapter_keeps_the_rounds_contract(workflow_env: WorkflowEnvironment) -> None:
    client = workflow_env.client
    queue = f"q-{uuid.uuid4()}"
    rounds = TemporalOfferRounds(client, queue, SETTINGS)
    slot = freed()
    # Unsandboxed: the stand-in lives in this module, which loads the settings on import.
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[StandInRound],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker:
        # A freed slot starts its round; freeing it again joins the running one.
        await rounds.slot_freed(slot)
        await rounds.slot_freed(slot)
        handle = client.get_workflow_handle(slot.round_id)
        assert (await handle.describe()).workflow_type == waitlist.WORKFLOW

        def offered(offer_id: str) -> WaitlistEntry:
            return entry_offered(slot.round_id, offer_id)

        accepted = await rounds.accept(offered("ok-1"), accept("ok-1"), 10.0)
        assert accepted == OfferAccepted(offer_id="ok-1", appointment_id="appointment-1")
        for kind, error in (
            ("expired", OfferExpired),
            ("closed", OfferClosed),
            ("missing", OfferNotFound),
            ("taken", SlotUnavailable),
        ):
            with pytest.raises(error):
                await rounds.accept(offered(f"{kind}-1"), accept(f"{kind}-1"), 10.0)
        decline = DeclineOffer(offer_id="closed-2", patient_id="pat-1", caller=CALLER)
        with pytest.raises(OfferClosed):
            await rounds.decline(offered("closed-2"), decline)
        # Taken by the round, not answered within the budget: still booking.
        assert await rounds.accept(offered("slow-1"), accept("slow-1"), 0.0) is None
        await rounds.entry_left(offered("ok-2"), "ok-2")
        left, slots = await handle.query("told", result_type=tuple[list[str], int])
        assert (left, slots) == (["ok-2"], 2)

        await handle.signal("end")
        await handle.result()
        with pytest.raises(RoundEnded):
            await rounds.accept(offered("ok-3"), accept("ok-3"), 10.0)
        decline = DeclineOffer(offer_id="ok-4", patient_id="pat-1", caller=CALLER)
        with pytest.raises(RoundEnded):
            await rounds.decline(offered("ok-4"), decline)
        await rounds.entry_left(offered("ok-5"), "ok-5")  # no round to tell: no error


async def test_an_answer_to_a_round_that_never_ran_is_round_ended(
    workflow_env: WorkflowEnvironment,
) -> None:
    rounds = TemporalOfferRounds(workflow_env.client, "nowhere", SETTINGS)
    entry = entry_offered(f"offer-nobody-{uuid.uuid4().hex}", "ok-1")
    with pytest.raises(RoundEnded):
        await rounds.accept(entry, accept("ok-1"), 1.0)
    await rounds.entry_left(entry, "ok-1")
