"""CancellationWorkflow and RescheduleWorkflow on the time-skipping test server: success,
each refusal, each compensation, and the forward-only steps after the commit point. A
business refusal completes its run with a rejected outcome; only a fault fails it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.answers import outcome_within
from domain.errors import IllegalTransition
from domain.events import EventContext
from tests.workflows.fakes import FakeWorld, refusal, transient
from workflows.cancellation import CancellationWorkflow
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.reschedule import RescheduleRequest
from workflows.contracts.saga import SagaOutcome, SagaRejected
from workflows.reschedule import RescheduleWorkflow
from workflows.search_attributes import SAGA_OUTCOME

CALLER = EventContext(actor="patient:pat-1", request_id="req-1")


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def run(env: WorkflowEnvironment, world: FakeWorld, workflow: Any, request: Any) -> Any:
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[CancellationWorkflow, RescheduleWorkflow],
        activities=world.activities(),
    ):
        return await env.client.execute_workflow(
            workflow, request, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )


async def refused(env: WorkflowEnvironment, world: FakeWorld, workflow: Any, request: Any) -> str:
    """A business refusal: the run completes (it does not fail) with the refusal's type."""
    outcome = await run(env, world, workflow, request)
    assert isinstance(outcome, SagaRejected), f"not rejected: {outcome}"
    return outcome.type


async def failed(env: WorkflowEnvironment, world: FakeWorld, workflow: Any, request: Any) -> str:
    """A fault: the run fails, naming it."""
    with pytest.raises(WorkflowFailureError) as caught:
        await run(env, world, workflow, request)
    assert isinstance(caught.value.cause, ApplicationError)
    return str(caught.value.cause.type)


def cancellation() -> CancellationRequest:
    return CancellationRequest(
        appointment_id="appt-1", reason="feeling better", fingerprint="fp", caller=CALLER
    )


def reschedule() -> RescheduleRequest:
    return RescheduleRequest(
        appointment_id="appt-1",
        start=datetime.now(UTC) + timedelta(days=5),
        fingerprint="fp",
        caller=CALLER,
    )


async def test_a_free_cancellation_voids_the_invoice_and_releases_the_slot(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    outcome = await run(workflow_env, world, CancellationWorkflow.run, cancellation())
    assert outcome.status == "CANCELLED"
    assert outcome.fee_cents == 0
    assert world.calls == [
        "prepare_cancellation",
        "mark_cancelled",
        "void_invoice_id:inv-old",
        "release_hold:hold-old",
        "offer_freed_slot",
    ]


async def test_a_late_cancellation_issues_the_fee_before_the_commit_point(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.fee_cents = 2500
    outcome = await run(workflow_env, world, CancellationWorkflow.run, cancellation())
    assert outcome.fee_invoice_id == "inv-fee"
    assert world.calls[:3] == ["prepare_cancellation", "issue_fee", "mark_cancelled"]
    assert world.inputs["mark_cancelled"].fee_invoice_id == "inv-fee"
    assert world.inputs["issue_fee"].amount_cents == 2500


async def test_an_appointment_that_cannot_be_cancelled_is_refused_untouched(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["prepare_cancellation"] = refusal("IllegalTransition")
    assert await refused(workflow_env, world, CancellationWorkflow.run, cancellation()) == (
        "IllegalTransition"
    )
    assert world.calls == ["prepare_cancellation"]


async def test_a_change_made_meanwhile_wins_and_the_fee_is_voided(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.fee_cents = 2500
    world.always_fail["mark_cancelled"] = refusal("ConcurrencyConflict")
    assert await refused(workflow_env, world, CancellationWorkflow.run, cancellation()) == (
        "ConcurrencyConflict"
    )
    assert world.completed[-1] == "void_invoice"
    assert world.inputs["void_invoice"].idempotency_key.endswith("/fee")
    assert "release_hold:hold-old" not in world.calls, "the slot stays booked"
    assert "void_invoice_id:inv-old" not in world.calls, "the invoice stays open"


async def test_after_the_commit_point_a_billing_outage_is_waited_out(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["void_invoice_id:inv-old"] = [transient(), transient()]
    outcome = await run(workflow_env, world, CancellationWorkflow.run, cancellation())
    assert outcome.status == "CANCELLED"
    assert world.attempts("void_invoice_id:inv-old") == 3
    assert world.completed[-2:] == ["release_hold:hold-old", "offer_freed_slot"]


RESCHEDULE_STEPS = [
    "prepare_reschedule",
    "check_availability",
    "reserve_slot",
    "create_invoice",
    "confirm_slot",
    "move_appointment",
    "void_invoice_id:inv-old",
    "release_hold:hold-old",
    "offer_freed_slot",
]


async def test_a_reschedule_holds_the_new_slot_first_and_lets_the_old_go_last(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    outcome = await run(workflow_env, world, RescheduleWorkflow.run, reschedule())
    assert outcome.status == "SCHEDULED"
    assert world.calls == RESCHEDULE_STEPS
    move = world.inputs["move_appointment"]
    assert (move.hold_id, move.invoice_id, move.expected_version) == ("hold-1", "inv-1", 3)


@pytest.mark.parametrize(
    ("step", "error_type"),
    [("prepare_reschedule", "IllegalTransition"), ("check_availability", "SlotUnavailable")],
)
async def test_a_refused_reschedule_changes_nothing(
    workflow_env: WorkflowEnvironment, world: FakeWorld, step: str, error_type: str
) -> None:
    world.always_fail[step] = refusal(error_type)
    assert await refused(workflow_env, world, RescheduleWorkflow.run, reschedule()) == error_type
    assert world.calls == RESCHEDULE_STEPS[: RESCHEDULE_STEPS.index(step) + 1]


@pytest.mark.parametrize(
    ("step", "error", "ends"),
    [
        ("create_invoice", transient(), failed),
        ("confirm_slot", refusal("SlotUnavailable", "hold expired"), refused),
        ("move_appointment", refusal("ConcurrencyConflict"), refused),
    ],
)
async def test_a_failure_before_the_move_releases_the_new_hold_and_keeps_the_original(
    workflow_env: WorkflowEnvironment,
    world: FakeWorld,
    step: str,
    error: Exception,
    ends: Any,
) -> None:
    world.always_fail[step] = error
    await ends(workflow_env, world, RescheduleWorkflow.run, reschedule())
    assert "release_slot" in world.completed, "the new hold is released"
    assert "void_invoice" in world.completed, "a new invoice, if any, is voided"
    assert "release_hold:hold-old" not in world.calls
    assert "void_invoice_id:inv-old" not in world.calls
    if step != "move_appointment":
        assert "move_appointment" not in world.calls


async def test_the_api_answers_a_rejected_run_with_the_domain_error_it_names(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """The run completes with the refusal; the adapter answers it as the domain error (the
    API's 409), as it answered the failed runs of before."""
    detail = "an appointment in status COMPLETED cannot become CANCELLED"
    world.always_fail["prepare_cancellation"] = refusal("IllegalTransition", detail)
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[CancellationWorkflow],
        activities=world.activities(),
    ):
        handle = await workflow_env.client.start_workflow(
            CancellationWorkflow.run, cancellation(), id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        with pytest.raises(IllegalTransition) as caught:
            await outcome_within(handle, 30.0, "cancellation")
        described = await handle.describe()
    assert caught.value.detail == detail
    assert described.status is not None
    assert described.status.name == "COMPLETED"
    assert described.typed_search_attributes.get(SAGA_OUTCOME) == SagaOutcome.REJECTED


async def test_cancelling_a_run_after_its_commit_point_undoes_nothing(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """The move is committed; an operator cancels the run while the old slot's release
    waits for the Doctor Service: the new hold and the new invoice must stay."""
    gate = asyncio.Event()
    world.blockers["release_hold:hold-old"] = gate
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[RescheduleWorkflow],
        activities=world.activities(),
    ):
        handle = await workflow_env.client.start_workflow(
            RescheduleWorkflow.run, reschedule(), id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        await asyncio.wait_for(world.entered_event("release_hold:hold-old").wait(), 10)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        gate.set()
    assert "move_appointment" in world.completed
    assert "release_slot" not in world.calls
    assert "void_invoice" not in world.calls
