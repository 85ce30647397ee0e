"""Forward steps as local activities (``settings.saga_local_steps``, on by default): the
same saga with the same outcomes, its forward steps recorded as markers instead of activity
tasks, and its compensations still regular activities an operator sees in the Web UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import FakeWorld, refusal, transient
from tests.workflows.test_booking_workflow import HAPPY, booking_running, request
from workflows.booking import BookingWorkflow
from workflows.contracts.booking import BookingOutcome
from workflows.contracts.saga import SagaRejected

UNDONE = {"void_invoice", "mark_failed", "release_slot"}


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def saga(
    env: WorkflowEnvironment, world: FakeWorld, **overrides: Any
) -> tuple[WorkflowHandle[BookingWorkflow, BookingOutcome], BookingOutcome | BaseException | None]:
    """One booking with local steps, to its end: its handle and its outcome (or failure).

    In real time: local steps are invisible to the server, so a skipping test server would
    skip through a local step's retries to the hold's expiry. And the fake hold's expiry
    comes from a local step's attempt time, the worker's clock, which the test server's
    (skipped ahead by earlier tests) has left behind: the hold is given 10 minutes by the
    test server's clock."""
    skew = await env.get_current_time() - datetime.now(UTC)
    world.hold_lifetime = skew + timedelta(minutes=10)
    booking = request(local_steps=True, **overrides)
    async with booking_running(env, world, booking) as handle:
        with env.auto_time_skipping_disabled():
            try:
                return handle, await handle.result()
            except WorkflowFailureError as failure:
                return handle, failure.cause


async def history_of(handle: WorkflowHandle[Any, Any]) -> tuple[list[str], int]:
    """The activity tasks the run scheduled, by name, and how many local activities it
    recorded (each as a marker)."""
    events = (await handle.fetch_history()).events
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    markers = sum(
        1
        for e in events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )
    return scheduled, markers


async def test_the_forward_steps_run_locally_and_the_saga_schedules(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    handle, outcome = await saga(workflow_env, world)
    assert isinstance(outcome, BookingOutcome)
    assert outcome.status == "SCHEDULED"
    assert world.calls == HAPPY
    assert all(world.infos[step].is_local for step in HAPPY)
    scheduled, markers = await history_of(handle)
    assert scheduled == [], "no forward step went through the task queue"
    assert markers == len(HAPPY)


async def test_a_local_step_knows_its_retry_policy(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """activities/errors.py reads it: an open breaker fails a bounded step at once, and
    makes a step retried until done wait for the half-open."""
    await saga(workflow_env, world)
    bounded = world.infos["create_invoice"].retry_policy
    until_done = world.infos["mark_scheduled"].retry_policy
    assert bounded is not None
    assert bounded.maximum_attempts == 5
    assert until_done is not None
    assert until_done.maximum_attempts == 0


async def test_a_refusal_in_a_local_step_is_undone_by_regular_activities(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = refusal("BillingRefused")
    handle, cause = await saga(workflow_env, world)
    assert isinstance(cause, SagaRejected), "a refusal completes its run"
    assert cause.type == "BillingRefused"
    assert world.attempts("create_invoice") == 1, "a business refusal is never retried"
    assert set(world.completed) >= UNDONE
    assert "confirm_slot" not in world.calls
    scheduled, _ = await history_of(handle)
    assert set(scheduled) == UNDONE, "compensations stay visible in the Web UI"


async def test_a_transient_fault_in_a_local_step_is_retried(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["create_invoice"] = [transient(), transient()]
    world.failures["validate_patient"] = [transient()]
    _, outcome = await saga(workflow_env, world)
    assert isinstance(outcome, BookingOutcome)
    assert outcome.status == "SCHEDULED"
    assert world.attempts("create_invoice") == 3
    assert world.attempts("validate_patient") == 2


async def test_the_check_tells_the_doctor_service_whose_booking_it_is(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """So that a check replayed after a crash does not refuse the slot the booking itself
    holds by then (activities/booking.py)."""
    await saga(workflow_env, world)
    check, reservation = world.inputs["check_availability"], world.inputs["reserve_slot"]
    assert check.patient_id == reservation.patient_id == "pat-1"


async def test_billing_unreachable_in_a_local_step_books_now_under_the_retry_policy(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """A local step's failure reaches the workflow as its cause, not wrapped in an
    ActivityError: the outage is still told from a refusal."""
    world.always_fail["create_invoice"] = transient("billing: HTTP 503")
    handle, outcome = await saga(
        workflow_env, world, billing_outage_policy="retry", billing_retry_max_interval_seconds=1.0
    )
    assert isinstance(outcome, BookingOutcome)
    assert (outcome.status, outcome.invoice_id) == ("SCHEDULED", "inv-late")
    assert world.attempts("create_invoice") == 5
    assert not UNDONE & set(world.calls)
    scheduled, _ = await history_of(handle)
    assert "create_invoice_when_billing_is_back" in scheduled, "waiting on Billing shows"
