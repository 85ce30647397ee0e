"""NoShowReversalWorkflow on the time-skipping test server: staff say the patient did come.
The no-show becomes CHECKED_IN or COMPLETED at the planned version (the commit point), then
its fee is voided at Billing, retried until done, and the void recorded. A refusal before
the commit point (not a no-show, the 24 h window closed, a change made meanwhile) completes
the run rejected with nothing changed; after it, nothing is undone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.answers import outcome_within
from domain.errors import NoShowReversalClosed
from domain.events import EventContext
from tests.workflows.fakes import FakeWorld, refusal, transient
from workflows.contracts.no_show_reversal import (
    NoShowReversalOutcome,
    NoShowReversalRequest,
    Target,
)
from workflows.contracts.saga import SagaOutcome, SagaRejected
from workflows.no_show_reversal import NoShowReversalWorkflow
from workflows.search_attributes import NEEDS_ATTENTION, SAGA_OUTCOME

CALLER = EventContext(actor="staff:frontdesk-1", request_id="req-1")
CLOSED = "the no-show was recorded at 2030-01-07T08:15:00+00:00: it may be reversed for 24 h"
STEPS = [
    "prepare_no_show_reversal",
    "reverse_no_show",
    "void_invoice_id:inv-no-show",
    "record_no_show_fee_voided",
]


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


def reversal(target: Target = "CHECKED_IN") -> NoShowReversalRequest:
    return NoShowReversalRequest(
        appointment_id="appt-1",
        target=target,
        reason="came late, seen at 09:20",
        fingerprint="fp",
        caller=CALLER,
    )


async def ended(
    env: WorkflowEnvironment, world: FakeWorld, request: NoShowReversalRequest
) -> tuple[WorkflowHandle[Any, Any], Any]:
    """The run once it ended, with its result (a run that fails fails the test)."""
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[NoShowReversalWorkflow],
        activities=world.activities(),
    ):
        handle = await env.client.start_workflow(
            NoShowReversalWorkflow.run, request, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        return handle, await handle.result()


async def attribute(handle: WorkflowHandle[Any, Any], key: Any) -> Any:
    return (await handle.describe()).typed_search_attributes.get(key)


@pytest.mark.parametrize("target", ["CHECKED_IN", "COMPLETED"])
async def test_the_no_show_is_reversed_then_its_fee_voided_and_the_void_recorded(
    workflow_env: WorkflowEnvironment, world: FakeWorld, target: Target
) -> None:
    handle, outcome = await ended(workflow_env, world, reversal(target))
    assert outcome == NoShowReversalOutcome(
        appointment_id="appt-1", status=target, voided_invoice_id="inv-no-show"
    )
    assert world.calls == STEPS
    reversed_ = world.inputs["reverse_no_show"]
    assert (reversed_.target, reversed_.expected_version) == (target, 4)  # at the planned one
    assert (reversed_.reason, reversed_.caller) == ("came late, seen at 09:20", CALLER)
    assert world.inputs["void_invoice_id:inv-no-show"].caller == CALLER
    recorded = world.inputs["record_no_show_fee_voided"]
    assert recorded.invoice_id == "inv-no-show"
    # every key derives from the run's id: a retried step is the same change
    assert reversed_.idempotency_key == f"{handle.id}/reversed"
    assert recorded.idempotency_key == f"{handle.id}/fee-voided"
    assert await attribute(handle, SAGA_OUTCOME) == SagaOutcome.COMPLETED


async def test_a_no_show_without_a_fee_is_reversed_and_billing_is_not_asked(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.no_show_invoice_id = None
    _, outcome = await ended(workflow_env, world, reversal("COMPLETED"))
    assert outcome.status == "COMPLETED"
    assert outcome.voided_invoice_id is None
    assert world.calls == STEPS[:2]


async def test_while_billing_is_down_the_void_is_retried_until_done(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["void_invoice_id:inv-no-show"] = [transient() for _ in range(3)]
    handle, outcome = await ended(workflow_env, world, reversal())
    assert outcome.voided_invoice_id == "inv-no-show"
    assert world.attempts("void_invoice_id:inv-no-show") == 4
    assert world.attempts("reverse_no_show") == 1, "the reversal stands while Billing is away"
    assert world.completed[-1] == "record_no_show_fee_voided", "recorded once it was void"
    assert await attribute(handle, NEEDS_ATTENTION) is None


async def test_a_void_billing_refuses_for_good_is_left_to_an_operator_and_not_recorded(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["void_invoice_id:inv-no-show"] = refusal(
        "PeerContractError", "invoice is paid"
    )
    handle, outcome = await ended(workflow_env, world, reversal())
    assert isinstance(outcome, NoShowReversalOutcome), f"not reversed: {outcome}"
    assert (outcome.status, outcome.voided_invoice_id) == ("CHECKED_IN", None)
    assert "record_no_show_fee_voided" not in world.calls, "no void recorded that did not happen"
    assert await attribute(handle, NEEDS_ATTENTION) == "void_no_show_fee"


@pytest.mark.parametrize(
    ("step", "error_type"),
    [
        ("prepare_no_show_reversal", "NoShowReversalClosed"),
        ("prepare_no_show_reversal", "IllegalTransition"),
        ("reverse_no_show", "ConcurrencyConflict"),  # a change made meanwhile wins
        ("reverse_no_show", "NoShowReversalClosed"),  # the window closed since the plan
    ],
)
async def test_a_refusal_before_the_commit_point_changes_nothing(
    workflow_env: WorkflowEnvironment, world: FakeWorld, step: str, error_type: str
) -> None:
    world.always_fail[step] = refusal(error_type)
    handle, outcome = await ended(workflow_env, world, reversal())
    assert isinstance(outcome, SagaRejected), f"not rejected: {outcome}"
    assert outcome.type == error_type
    assert world.calls == STEPS[: STEPS.index(step) + 1]
    assert not any(call.startswith("void_invoice") for call in world.calls), "the fee stands"
    assert await attribute(handle, SAGA_OUTCOME) == SagaOutcome.REJECTED


async def test_the_api_answers_a_closed_window_with_the_domain_error(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["prepare_no_show_reversal"] = refusal("NoShowReversalClosed", CLOSED)
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[NoShowReversalWorkflow],
        activities=world.activities(),
    ):
        handle = await workflow_env.client.start_workflow(
            NoShowReversalWorkflow.run, reversal(), id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        with pytest.raises(NoShowReversalClosed) as caught:
            await outcome_within(handle, 30.0, "no-show-reversal")
    assert caught.value.detail == CLOSED
