"""Slot holds expire by a durable workflow timer, on the time-skipping test server: the
steps between taking a hold and confirming it race the hold's lifetime, and when the
timer wins the running step is cancelled and everything is undone."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import FakeWorld, settled, stalled
from tests.workflows.test_booking_workflow import HAPPY, booking_running, failed_saga
from tests.workflows.test_lifecycle_workflows import failed, reschedule
from workflows.booking import BookingWorkflow
from workflows.contracts.booking import BookingStatus
from workflows.hold import HOLD_EXPIRED
from workflows.reschedule import RescheduleWorkflow

UNDONE = {"void_invoice", "mark_failed", "release_slot"}


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()  # holds live 5 minutes, as APPOINTMENTS_SLOT_HOLD_MINUTES says


def assert_undone_in_order(world: FakeWorld) -> None:
    assert world.completed.index("mark_failed") < world.completed.index("release_slot"), (
        "the PENDING row keeps blocking the slot until the hold is released"
    )
    assert "mark_scheduled" not in world.calls


async def test_a_step_stalled_past_the_hold_lifetime_undoes_the_booking(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """Billing asks us back in 10 minutes; the 5-minute hold expires first. The test server
    skips the 5 minutes: the run is over in well under a second of real time."""
    world.failures["create_invoice"] = [stalled(timedelta(minutes=10))]
    began = time.monotonic()
    cause = await failed_saga(workflow_env, world)
    assert time.monotonic() - began < 10, "the hold's lifetime is skipped, not waited for"

    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.non_retryable) == (HOLD_EXPIRED, True)
    assert "hold-1" in cause.message
    assert world.attempts("create_invoice") == 1, "the stalled step is not tried again"
    assert set(world.completed) >= UNDONE, "hold released, FAILED, invoice voided"
    assert_undone_in_order(world)
    assert "confirm_slot" not in world.calls


async def test_a_step_running_when_the_hold_expires_is_cancelled_and_all_undone(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """The Doctor Service hangs on the confirmation while the hold runs out. A running
    activity stops the test server's clock, so this hold lives 2 real seconds."""
    world.hold_lifetime = timedelta(seconds=2)
    answer, undoing = asyncio.Event(), asyncio.Event()
    world.blockers |= {"confirm_slot": answer, "mark_failed": undoing}
    async with booking_running(workflow_env, world) as handle:
        await asyncio.wait_for(world.entered_event("mark_failed").wait(), 10)
        answer.set()  # the Doctor Service answers at last: too late, the run moved on
        await settled(handle, "confirm_slot")
        undoing.set()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == HOLD_EXPIRED
    assert world.calls[: len(HAPPY) - 1] == HAPPY[:-1], "it got as far as the confirmation"
    assert set(world.completed) >= UNDONE, "the invoice it had created is voided"
    assert_undone_in_order(world)
    assert world.attempts("confirm_slot") == 1, "the cancelled step is not tried again"


async def test_a_hold_expiring_while_persisting_leaves_nothing_to_void(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["persist_pending"] = [stalled(timedelta(minutes=6))]
    cause = await failed_saga(workflow_env, world)
    assert cause.type == HOLD_EXPIRED
    assert {"mark_failed", "release_slot"} <= set(world.completed)
    assert "create_invoice" not in world.calls
    assert "void_invoice" not in world.calls, "no invoice was ever asked for"


async def test_a_hold_already_expired_when_taken_is_released_at_once(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.hold_lifetime = timedelta(0)
    cause = await failed_saga(workflow_env, world)
    assert cause.type == HOLD_EXPIRED
    # undone, the slot may be free again: offered to the waitlist
    assert world.calls == [*HAPPY[:3], "release_slot", "offer_freed_slot"]


async def test_the_expiry_is_a_fault_not_a_refusal_in_progress_and_web_ui(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["confirm_slot"] = [stalled(timedelta(minutes=30))]
    async with booking_running(workflow_env, world) as handle:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        progress = await handle.query(BookingWorkflow.progress)
    assert progress is not None
    assert (progress.status, progress.error_type) == (BookingStatus.FAILED, HOLD_EXPIRED)
    assert progress.failed_step == "confirm_slot"


async def test_a_saga_that_confirms_in_time_is_unaffected_and_its_timer_cancelled(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """Billing makes us wait 4 of the hold's 5 minutes: the booking still goes through."""
    world.failures["create_invoice"] = [stalled(timedelta(minutes=4))]
    async with booking_running(workflow_env, world) as handle:
        outcome = await handle.result()
    assert outcome.status == "SCHEDULED"
    assert world.calls == HAPPY[:5] + HAPPY[4:]  # the invoice asked twice
    assert not UNDONE & set(world.completed)
    timers = [
        event.event_type
        async for event in handle.fetch_history_events()
        if event.event_type
        in (
            EventType.EVENT_TYPE_TIMER_STARTED,
            EventType.EVENT_TYPE_TIMER_FIRED,
            EventType.EVENT_TYPE_TIMER_CANCELED,
        )
    ]
    assert timers == [EventType.EVENT_TYPE_TIMER_STARTED, EventType.EVENT_TYPE_TIMER_CANCELED]


async def test_a_reschedule_whose_new_hold_expires_keeps_the_original(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["create_invoice"] = [stalled(timedelta(minutes=10))]
    # A fault (the peer too slow for the hold), not a refusal: the run fails.
    assert await failed(workflow_env, world, RescheduleWorkflow.run, reschedule()) == (HOLD_EXPIRED)
    assert {"release_slot", "void_invoice"} <= set(world.completed), "the new hold, invoice"
    assert "confirm_slot" not in world.calls
    assert "move_appointment" not in world.calls, "the original appointment is untouched"
    assert "release_hold:hold-old" not in world.calls
    assert "void_invoice_id:inv-old" not in world.calls
