"""The billing outage policy, on the time-skipping test server. Billing unreachable (its
retries spent, or its breaker open) while booking: "compensate" (the default) undoes the
booking; "retry" books it now, SCHEDULED without an invoice, waits on Billing as long as
it takes, then records the invoice. A refusal from Billing is no outage under either."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.legacy_join import scheduled_within
from tests.workflows.fakes import FakeWorld, circuit_open, refusal, transient
from tests.workflows.test_booking_workflow import (
    HAPPY,
    booking_running,
    failed_saga,
    rejected_saga,
    request,
    run_saga,
)
from workflows.booking import BookingWorkflow
from workflows.contracts.booking import BookingOutcome, BookingRequest, BookingStatus
from workflows.search_attributes import BOOKING_STATUS

UNDONE = {"void_invoice", "mark_failed", "release_slot"}
LATE = ["create_invoice_when_billing_is_back", "record_invoice"]


def retrying() -> BookingRequest:
    return request(billing_outage_policy="retry", billing_retry_max_interval_seconds=30.0)


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def booking_status(handle: WorkflowHandle[BookingWorkflow, BookingOutcome]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(BOOKING_STATUS)


# --- "compensate", the default -------------------------------------------------------


async def test_by_default_billing_unreachable_still_undoes_the_booking(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = transient("billing: HTTP 503")
    cause = await failed_saga(workflow_env, world)
    assert cause.type == "BookingFailed"
    assert set(world.completed) >= UNDONE
    assert not set(LATE) & set(world.calls)


async def test_an_open_breaker_fails_fast_as_a_fault_not_a_refusal(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = circuit_open()
    async with booking_running(workflow_env, world) as handle:
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        progress = await handle.query(BookingWorkflow.progress)
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == "PeerCircuitOpen"  # the API answers 503 booking-failed
    assert world.attempts("create_invoice") == 1
    assert progress is not None
    assert (progress.status, progress.error_type) == (BookingStatus.FAILED, "PeerCircuitOpen")
    assert set(world.completed) >= UNDONE


# --- "retry" ----------------------------------------------------------------------------


@pytest.mark.parametrize("outage", [transient("billing: HTTP 503"), circuit_open()])
async def test_billing_unreachable_books_now_and_invoices_once_billing_is_back(
    workflow_env: WorkflowEnvironment, world: FakeWorld, outage: ApplicationError
) -> None:
    world.always_fail["create_invoice"] = outage
    world.failures["create_invoice_when_billing_is_back"] = [transient() for _ in range(3)]
    outcome = await run_saga(workflow_env, world, retrying())

    assert (outcome.status, outcome.invoice_id) == ("SCHEDULED", "inv-late")
    first_tries = world.attempts("create_invoice")
    assert world.calls == [
        *HAPPY[:4],
        *["create_invoice"] * first_tries,
        "confirm_slot",
        "mark_scheduled",
        *["create_invoice_when_billing_is_back"] * 4,
        "record_invoice",
    ]
    assert world.inputs["mark_scheduled"].invoice_id is None, "SCHEDULED without an invoice"
    late, first = (
        world.inputs["create_invoice_when_billing_is_back"],
        world.inputs["create_invoice"],
    )
    assert late.idempotency_key == first.idempotency_key, "Billing answers one invoice per key"
    record = world.inputs["record_invoice"]
    assert record.invoice_id == "inv-late"
    assert record.idempotency_key.endswith("/invoiced")
    assert not UNDONE & set(world.calls), "nothing is undone"


async def test_the_invoice_is_retried_without_limit_at_the_configured_pace(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = transient()
    async with booking_running(workflow_env, world, retrying()) as handle:
        await handle.result()
    policies = [
        event.activity_task_scheduled_event_attributes.retry_policy
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name == LATE[0]
    ]
    assert len(policies) == 1, "one activity, however many attempts"
    (policy,) = policies
    assert policy.maximum_attempts == 0, "until Billing is back, however long that takes"
    assert policy.maximum_interval.ToTimedelta() == timedelta(seconds=30)
    assert "BillingRefused" in policy.non_retryable_error_types


async def test_while_waiting_on_billing_the_booking_is_answered_and_shown_waiting(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = circuit_open()  # fails at once: no backoff to wait
    billing_back = asyncio.Event()
    world.blockers["create_invoice_when_billing_is_back"] = billing_back
    async with booking_running(workflow_env, world, retrying()) as handle:
        await asyncio.wait_for(world.entered_event(LATE[0]).wait(), 10)
        progress = await handle.query(BookingWorkflow.progress)
        assert progress is not None
        assert (progress.status, progress.step) == (
            BookingStatus.AWAITING_BILLING,
            "waiting_for_billing",
        )
        assert await booking_status(handle) == "AWAITING_BILLING"
        # The API's wait ends now, with the run still going: 201 SCHEDULED, no invoice.
        assert await asyncio.wait_for(scheduled_within(handle, wait_seconds=10), 5)

        billing_back.set()
        outcome = await handle.result()
        assert outcome.invoice_id == "inv-late"
        assert await booking_status(handle) == "SCHEDULED"


async def test_the_api_still_waits_for_a_booking_that_is_not_scheduled_yet(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    slow = asyncio.Event()
    world.blockers["create_invoice"] = slow
    async with booking_running(workflow_env, world, retrying()) as handle:
        await asyncio.wait_for(world.entered_event("create_invoice").wait(), 10)
        assert not await scheduled_within(handle, wait_seconds=1.2), "202: still booking"
        slow.set()
        assert await scheduled_within(handle, wait_seconds=10)


async def test_a_refusal_from_billing_is_no_outage_and_compensates(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = refusal("BillingRefused", "payment refused")
    cause = await rejected_saga(workflow_env, world, retrying())
    assert cause.type == "BillingRefused"
    assert set(world.completed) >= UNDONE
    assert "confirm_slot" not in world.calls
    assert not set(LATE) & set(world.calls)


async def test_an_appointment_cancelled_while_waiting_stops_the_invoicing(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """The cancellation saga voids nothing (there is no invoice) and releases the slot;
    the waiting run's next attempt finds the appointment cancelled and creates nothing."""
    world.always_fail["create_invoice"] = transient()
    world.awaits_invoice = False
    outcome = await run_saga(workflow_env, world, retrying())
    assert outcome.invoice_id is None
    assert world.calls[-1] == "create_invoice_when_billing_is_back"
    assert not {"record_invoice", "void_invoice", "withdraw_booking"} & set(world.calls)


async def test_an_invoice_created_as_the_appointment_was_cancelled_is_voided(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = transient()
    world.invoice_wanted = False  # cancelled between the invoice and its record
    outcome = await run_saga(workflow_env, world, retrying())
    assert outcome.invoice_id is None
    assert world.calls[-2:] == ["record_invoice", "void_invoice_id:inv-late"]


@pytest.mark.parametrize("withdrawable", [True, False], ids=["withdrawn", "checked-in"])
async def test_billing_refusing_the_late_invoice_withdraws_the_booking(
    workflow_env: WorkflowEnvironment, world: FakeWorld, withdrawable: bool
) -> None:
    """Past the commit point there is no FAILED: the booking is cancelled and its slot
    released, unless it can no longer be (checked in, or cancelled meanwhile)."""
    world.always_fail["create_invoice"] = transient()
    world.always_fail[LATE[0]] = refusal("BillingRefused", "payment refused")
    world.withdrawable = withdrawable
    cause = await rejected_saga(workflow_env, world, retrying())
    assert cause.type == "BillingRefused"
    assert world.attempts(LATE[0]) == 1
    assert world.inputs["withdraw_booking"].idempotency_key.endswith("/withdrawn")
    assert ("release_hold:hold-1" in world.completed) is withdrawable
    assert not {"mark_failed", "release_slot", "void_invoice"} & set(world.calls)
