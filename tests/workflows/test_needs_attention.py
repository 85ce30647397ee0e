"""A step that must finish (a compensation, a step after the commit point) and meets a
refusal for good is left to an operator: the run records the step in the NeedsAttention
search attribute and goes on, instead of failing (or retrying silently forever). A fault
that may pass is still retried, and flags nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.fakes import FakeWorld, refusal, transient
from tests.workflows.test_booking_workflow import request as booking
from tests.workflows.test_lifecycle_workflows import cancellation
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.contracts.cancellation import CancellationOutcome
from workflows.contracts.saga import SagaOutcome, SagaRejected
from workflows.search_attributes import NEEDS_ATTENTION, SAGA_OUTCOME

# Billing will not void an invoice that was paid meanwhile; the Doctor Service refuses a
# release whose key was used for another hold: both off our contract, never retried.
PAID = refusal("PeerContractError", "invoice is paid")
KEY_REUSED = refusal("PeerContractError", "idempotency-key-reused")


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def ended(
    env: WorkflowEnvironment, world: FakeWorld, workflow: Any, request: Any
) -> tuple[WorkflowHandle[Any, Any], Any]:
    """The run of ``workflow`` once it ended, with its result or the cause of its failure."""
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[BookingWorkflow, CancellationWorkflow],
        activities=world.activities(),
    ):
        handle = await env.client.start_workflow(
            workflow, request, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        try:
            return handle, await handle.result()
        except WorkflowFailureError as failure:
            return handle, failure.cause


async def needs_attention(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(NEEDS_ATTENTION)


@pytest.mark.parametrize(
    ("step", "error"),
    [("void_invoice", PAID), ("release_slot", KEY_REUSED)],
    ids=["the new invoice is paid", "the hold's key was reused"],
)
async def test_a_compensation_refused_for_good_flags_the_run_and_the_undoing_goes_on(
    workflow_env: WorkflowEnvironment, world: FakeWorld, step: str, error: Exception
) -> None:
    world.always_fail["confirm_slot"] = refusal("SlotUnavailable", "hold expired")
    world.always_fail[step] = error
    handle, cause = await ended(workflow_env, world, BookingWorkflow.run, booking())
    # A refusal, but its undoing needs an operator: something broke, the run is Failed.
    assert isinstance(cause, ApplicationError)
    assert cause.type == "SlotUnavailable", "the run fails for its own cause, compensated"
    assert (await handle.describe()).typed_search_attributes.get(SAGA_OUTCOME) == (
        SagaOutcome.FAILED
    )
    assert await needs_attention(handle) == step
    assert world.attempts(step) == 1, "a refusal for good is not retried"
    undone = {"void_invoice", "mark_failed", "release_slot"} - {step}
    assert undone <= set(world.completed), "the other compensations still run"


@pytest.mark.parametrize(
    ("step", "flagged", "error"),
    [
        ("void_invoice_id:inv-old", "void_invoice_id", PAID),
        ("release_hold:hold-old", "release_hold", KEY_REUSED),
    ],
    ids=["the invoice is paid", "the hold's key was reused"],
)
async def test_a_let_go_step_refused_for_good_flags_the_run_and_the_cancellation_stands(
    workflow_env: WorkflowEnvironment,
    world: FakeWorld,
    step: str,
    flagged: str,
    error: Exception,
) -> None:
    world.always_fail[step] = error
    handle, outcome = await ended(workflow_env, world, CancellationWorkflow.run, cancellation())
    assert isinstance(outcome, CancellationOutcome), f"the run failed: {outcome}"
    assert outcome.status == "CANCELLED"
    assert await needs_attention(handle) == flagged
    assert world.attempts(step) == 1
    assert {"void_invoice_id:inv-old", "release_hold:hold-old"} - {step} <= set(world.completed), (
        "the rest is still let go"
    )


async def test_a_compensation_that_meets_a_fault_is_retried_until_done_not_flagged(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """A guard against flagging too much: a compensated run whose compensations all
    finish, one of them after a passing fault, needs no operator."""
    world.always_fail["confirm_slot"] = refusal("SlotUnavailable", "hold expired")
    world.failures["void_invoice"] = [transient(), transient()]
    handle, cause = await ended(workflow_env, world, BookingWorkflow.run, booking())
    assert isinstance(cause, SagaRejected), "a refusal undone in full completes its run"
    assert world.attempts("void_invoice") == 3
    assert "void_invoice" in world.completed
    assert await needs_attention(handle) is None


async def test_a_let_go_step_that_meets_a_fault_is_retried_until_done_not_flagged(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """A guard against flagging too much: a cancellation whose release waited out a
    passing fault needs no operator."""
    world.failures["release_hold:hold-old"] = [transient(), transient()]
    handle, outcome = await ended(workflow_env, world, CancellationWorkflow.run, cancellation())
    assert outcome.status == "CANCELLED"
    assert world.attempts("release_hold:hold-old") == 3
    assert world.completed[-2:] == ["release_hold:hold-old", "offer_freed_slot"]
    assert await needs_attention(handle) is None
