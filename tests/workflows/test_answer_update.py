"""The ``answer`` update the API waits on instead of polling: it returns once the booking
is SCHEDULED (or only waits on Billing), raises the saga's refusal or failure once it is
undone, and refuses a request that reuses the key with another body before anything is
recorded. A refusal completes its run (a rejected outcome); only a fault fails it."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import FakeWorld, refusal, transient
from tests.workflows.test_booking_workflow import booking_running, request
from workflows.contracts.booking import (
    ANSWER_UPDATE,
    FAILED,
    KEY_REUSED,
    BookingProgress,
    BookingStatus,
)
from workflows.contracts.saga import SagaOutcome, SagaRejected
from workflows.search_attributes import BOOKING_STATUS, SAGA_OUTCOME

UNDONE = {"void_invoice", "mark_failed", "release_slot"}


async def answer_of(handle: WorkflowHandle[Any, Any], fingerprint: str) -> BookingProgress:
    """The update as the API sends it (adapters/temporal.py): by its contract's name."""
    answer: BookingProgress = await handle.execute_update(
        ANSWER_UPDATE, fingerprint, result_type=BookingProgress
    )
    return answer


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def test_the_answer_is_the_scheduled_booking(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    booking = request()
    async with booking_running(workflow_env, world, booking) as handle:
        answer = await answer_of(handle, booking.fingerprint)
        outcome = await handle.result()
        described = await handle.describe()
    assert answer.status == BookingStatus.SCHEDULED
    assert described.typed_search_attributes.get(SAGA_OUTCOME) == SagaOutcome.COMPLETED
    assert answer.appointment_id == booking.appointment_id == outcome.appointment_id
    assert "mark_scheduled" in world.completed, "answered only once the booking is stored"


async def test_a_refused_saga_answers_its_refusal_once_undone_and_completes_its_run(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = refusal("BillingRefused", "payment refused")
    booking = request()
    async with booking_running(workflow_env, world, booking) as handle:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await answer_of(handle, booking.fingerprint)
        outcome = await handle.result()
        described = await handle.describe()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.message, cause.non_retryable) == (
        "BillingRefused",
        "payment refused",
        True,
    )
    assert set(world.completed) >= UNDONE, "the answer waits for the undoing"
    # A correct business answer, not a failure: the Web UI lists the run Completed.
    assert described.status is not None
    assert described.status.name == "COMPLETED"
    assert outcome == SagaRejected(
        type="BillingRefused",
        code="billing-refused",
        title="Billing refused the invoice",
        detail="payment refused",
    )
    attributes = described.typed_search_attributes
    assert attributes.get(BOOKING_STATUS) == BookingStatus.REJECTED
    assert attributes.get(SAGA_OUTCOME) == SagaOutcome.REJECTED


async def test_a_saga_that_broke_answers_its_fault_once_undone_and_fails_its_run(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """A fault (Billing down past the step's retries, policy "compensate") is not a
    business answer: the run is Failed, for an operator to find."""
    world.always_fail["create_invoice"] = transient("billing: HTTP 503")
    booking = request()
    async with booking_running(workflow_env, world, booking) as handle:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await answer_of(handle, booking.fingerprint)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        described = await handle.describe()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == FAILED
    assert set(world.completed) >= UNDONE
    assert described.status is not None
    assert described.status.name == "FAILED"
    attributes = described.typed_search_attributes
    assert attributes.get(BOOKING_STATUS) == BookingStatus.FAILED
    assert attributes.get(SAGA_OUTCOME) == SagaOutcome.FAILED


async def test_a_key_reused_with_another_body_is_refused_before_it_is_recorded(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    booking = request()
    async with booking_running(workflow_env, world, booking) as handle:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await answer_of(handle, "another request's fingerprint")
        await handle.result()
        events = (await handle.fetch_history()).events
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == KEY_REUSED
    assert not any(
        e.HasField("workflow_execution_update_accepted_event_attributes") for e in events
    )


async def test_a_booking_that_waits_on_billing_is_answered_at_once(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = transient("billing: HTTP 503")
    world.always_fail["create_invoice_when_billing_is_back"] = transient("billing: HTTP 503")
    booking = request(billing_outage_policy="retry", billing_retry_max_interval_seconds=30.0)
    async with booking_running(workflow_env, world, booking) as handle:
        answer = await answer_of(handle, booking.fingerprint)
        await handle.cancel()  # the run would wait on Billing for good
    assert answer.status == BookingStatus.AWAITING_BILLING
