"""BookingWorkflow on the time-skipping test server: the happy path, each refusal, each
compensation path, retries of transient faults, and cancellation mid-saga. A business
refusal completes its run with a rejected outcome; only a fault fails it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.events import EventContext
from tests.workflows.fakes import FakeWorld, refusal, settled, transient
from workflows.booking import BookingWorkflow
from workflows.contracts.booking import (
    AdoptedHold,
    BookingOutcome,
    BookingRequest,
    BookingStatus,
)
from workflows.contracts.saga import SagaRejected

HAPPY = [
    "validate_patient",
    "check_availability",
    "reserve_slot",
    "persist_pending",
    "create_invoice",
    "confirm_slot",
    "mark_scheduled",
]


def request(**overrides: Any) -> BookingRequest:
    return BookingRequest(
        appointment_id=str(uuid.uuid4()),
        patient_id="pat-1",
        doctor_id="doc-1",
        start=datetime.now(UTC) + timedelta(days=3),
        duration_minutes=30,
        reason="check-up",
        idempotency_key="key",
        fingerprint="fp",
        caller=EventContext(actor="staff:test", request_id="req-1"),
        **overrides,
    )


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def start(
    env: WorkflowEnvironment, world: FakeWorld, queue: str, booking: BookingRequest | None = None
) -> WorkflowHandle[BookingWorkflow, BookingOutcome]:
    return await env.client.start_workflow(
        BookingWorkflow.run,
        booking or request(),
        id=f"booking-{uuid.uuid4()}",
        task_queue=queue,
    )


@asynccontextmanager
async def booking_running(
    env: WorkflowEnvironment, world: FakeWorld, booking: BookingRequest | None = None
) -> AsyncIterator[WorkflowHandle[BookingWorkflow, BookingOutcome]]:
    """A booking run started on its own task queue, with a worker of ``world``'s fake
    activities serving it while the block runs."""
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[BookingWorkflow], activities=world.activities()
    ):
        yield await start(env, world, queue, booking)


async def run_saga(
    env: WorkflowEnvironment, world: FakeWorld, booking: BookingRequest | None = None
) -> BookingOutcome:
    async with booking_running(env, world, booking) as handle:
        return await handle.result()


async def rejected_saga(
    env: WorkflowEnvironment, world: FakeWorld, booking: BookingRequest | None = None
) -> SagaRejected:
    """A business refusal: the run completes (it does not fail) with the refusal."""
    outcome: BookingOutcome | SagaRejected = await run_saga(env, world, booking)
    assert isinstance(outcome, SagaRejected), f"not rejected: {outcome}"
    return outcome


async def failed_saga(
    env: WorkflowEnvironment, world: FakeWorld, booking: BookingRequest | None = None
) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as caught:
        await run_saga(env, world, booking)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_happy_path_runs_the_steps_in_order_and_schedules(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    outcome = await run_saga(workflow_env, world)
    assert outcome.status == "SCHEDULED"
    assert outcome.invoice_id == "inv-1"
    assert outcome.hold_id == "hold-1"
    assert world.calls == HAPPY


async def test_idempotency_keys_derive_from_the_workflow_id(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    await run_saga(workflow_env, world)
    keys = {
        step: world.inputs[step].idempotency_key
        for step in ("reserve_slot", "persist_pending", "create_invoice", "mark_scheduled")
    }
    assert len(set(keys.values())) == 4
    assert all(key.startswith("booking-") for key in keys.values())


@pytest.mark.parametrize(
    ("step", "error_type"),
    [
        ("validate_patient", "PatientNotFound"),
        ("check_availability", "SlotUnavailable"),
        ("check_availability", "SlotNotOffered"),
    ],
)
async def test_refusal_before_the_hold_compensates_nothing(
    workflow_env: WorkflowEnvironment, world: FakeWorld, step: str, error_type: str
) -> None:
    world.always_fail[step] = refusal(error_type)
    cause = await rejected_saga(workflow_env, world)
    assert cause.type == error_type
    assert world.attempts(step) == 1, "a business refusal is never retried"
    assert world.calls == HAPPY[: HAPPY.index(step) + 1]


@pytest.mark.parametrize(
    ("step", "undone", "next_step"),
    [
        ("reserve_slot", ["release_slot"], "persist_pending"),
        ("persist_pending", ["mark_failed", "release_slot"], "create_invoice"),
    ],
    ids=["at the reservation: whatever was held is released",
         "by the database: marked failed, then released"],
)  # fmt: skip
async def test_a_slot_found_taken_undoes_what_was_done_in_reverse(
    workflow_env: WorkflowEnvironment,
    world: FakeWorld,
    step: str,
    undone: list[str],
    next_step: str,
) -> None:
    world.always_fail[step] = refusal("SlotUnavailable")
    cause = await rejected_saga(workflow_env, world)
    assert cause.type == "SlotUnavailable"
    assert world.completed[-len(undone) :] == undone
    assert next_step not in world.calls


async def test_billing_down_compensates_every_step_in_reverse(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["create_invoice"] = transient()
    cause = await failed_saga(workflow_env, world)
    assert cause.type == "BookingFailed"
    assert world.attempts("create_invoice") == 5, "transient faults are retried, then given up"
    assert {"void_invoice", "mark_failed", "release_slot"} <= set(world.completed)
    assert world.completed.index("mark_failed") < world.completed.index("release_slot")
    assert "confirm_slot" not in world.calls
    assert "mark_scheduled" not in world.calls


async def test_transient_faults_are_retried_until_the_step_succeeds(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["create_invoice"] = [transient(), transient()]
    world.failures["validate_patient"] = [transient()]
    outcome = await run_saga(workflow_env, world)
    assert outcome.status == "SCHEDULED"
    assert world.attempts("create_invoice") == 3
    assert world.attempts("validate_patient") == 2


async def test_hold_lost_before_confirmation_compensates_everything(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["confirm_slot"] = refusal("SlotUnavailable", "hold expired")
    cause = await rejected_saga(workflow_env, world)
    assert cause.type == "SlotUnavailable"
    assert set(world.completed[-3:]) == {"void_invoice", "mark_failed", "release_slot"}
    assert world.completed.index("mark_failed") < world.completed.index("release_slot")
    assert "mark_scheduled" not in world.calls


async def test_a_billing_void_that_waits_does_not_hold_the_slot_hostage(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    """Billing stays down: the appointment is marked FAILED and the hold released while
    the invoice void keeps retrying; the saga ends once Billing answers."""
    world.always_fail["create_invoice"] = transient()
    world.failures["void_invoice"] = [transient() for _ in range(3)]
    cause = await failed_saga(workflow_env, world)
    assert cause.type == "BookingFailed"
    assert world.completed.index("release_slot") < world.completed.index("void_invoice")
    assert world.attempts("void_invoice") == 4


async def test_progress_query_and_search_attribute_report_the_outcome(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.always_fail["check_availability"] = refusal("SlotUnavailable")
    async with booking_running(workflow_env, world) as handle:
        outcome = await handle.result()
        progress = await handle.query(BookingWorkflow.progress)
    assert isinstance(outcome, SagaRejected)
    assert progress is not None
    assert progress.status == BookingStatus.REJECTED
    assert progress.error_type == "SlotUnavailable"
    assert progress.failed_step == "check_availability"


async def test_cancellation_mid_saga_still_runs_every_compensation(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    answer, undoing = asyncio.Event(), asyncio.Event()
    world.blockers |= {"create_invoice": answer, "mark_failed": undoing}
    async with booking_running(workflow_env, world) as handle:
        await asyncio.wait_for(world.entered_event("create_invoice").wait(), 10)
        await handle.cancel()
        await asyncio.wait_for(world.entered_event("mark_failed").wait(), 10)
        answer.set()  # Billing answers the cancelled step while the run still undoes
        await settled(handle, "create_invoice")
        undoing.set()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    assert isinstance(caught.value.cause, CancelledError)
    assert {"void_invoice", "mark_failed", "release_slot"} <= set(world.completed)
    assert world.completed.index("mark_failed") < world.completed.index("release_slot")


async def test_after_the_slot_is_confirmed_marking_scheduled_is_waited_out_not_undone(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.failures["mark_scheduled"] = [transient("mongo down") for _ in range(2)]
    outcome = await run_saga(workflow_env, world)
    assert outcome.status == "SCHEDULED"
    assert world.attempts("mark_scheduled") == 3
    assert not {"void_invoice", "mark_failed", "release_slot"} & set(world.calls)


async def test_a_cancellation_during_the_undoing_does_not_stop_it(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    gate = asyncio.Event()
    world.always_fail["create_invoice"] = refusal("BillingRefused")
    world.blockers["mark_failed"] = gate
    async with booking_running(workflow_env, world) as handle:
        await asyncio.wait_for(world.entered_event("mark_failed").wait(), 10)
        await handle.cancel()
        gate.set()
        outcome = await handle.result()  # the refusal stands, its undoing finished
    assert isinstance(outcome, SagaRejected)
    assert outcome.type == "BillingRefused"
    assert {"void_invoice", "mark_failed", "release_slot"} <= set(world.completed)


async def test_a_booking_on_a_hold_the_caller_took_confirms_it_and_never_takes_or_releases_one(
    workflow_env: WorkflowEnvironment,
) -> None:
    """FHIR ``$book`` of a ``$hold``: the saga books on the caller's hold as on a waitlist
    round's; when Billing refuses, it undoes its own steps but leaves the hold alone (it
    expires by itself at the Doctor Service)."""
    now = await workflow_env.get_current_time()
    held = AdoptedHold(hold_id="hold-api", expires_at=now + timedelta(hours=5))
    billing_refuses = {"create_invoice": [refusal("PeerContractError", "billing refuses")]}
    for failures, fails in [({}, False), (billing_refuses, True)]:
        world = FakeWorld()
        world.failures = {step: list(errors) for step, errors in failures.items()}
        booking = request(held=held)
        # No skipping: the server may skip to the hold's expiry while a step runs.
        with workflow_env.auto_time_skipping_disabled():
            if fails:
                cause = await failed_saga(workflow_env, world, booking)
                assert "billing refuses" in str(cause), cause
            else:
                outcome = await run_saga(workflow_env, world, booking)
                assert outcome.status == "SCHEDULED"
                assert outcome.hold_id == "hold-api"
        assert not {"check_availability", "reserve_slot"} & set(world.calls), world.calls
        assert not [c for c in world.calls if c.startswith("release")], world.calls
        assert [a.hold_id for a in world.inputs_of("persist_pending")] == ["hold-api"]
        if fails:
            assert "confirm_slot" not in world.calls
        else:
            assert [a.hold_id for a in world.inputs_of("confirm_slot")] == ["hold-api"]
