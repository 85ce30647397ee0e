"""The worker interceptor on the real sagas (fake activities, Temporal's time-skipping
test server): each run's outcome counted exactly once, even when every workflow task
replays the history from the start, when a query replays the closed run, and when the
history is replayed with the interceptor in place; and every step attempt timed.

A workflow test by nature (it could live in tests/workflows/); here it stays beside the
telemetry it checks, with a test server of its own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from domain.errors import BUSINESS_ERRORS
from telemetry.interceptor import SagaMetricsInterceptor
from telemetry.metrics import WorkerMetrics
from tests.workflows.fakes import FakeWorld, refusal, transient
from tests.workflows.server import ENCRYPTED, time_skipping_server
from tests.workflows.test_booking_workflow import HAPPY, request
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.reschedule import RescheduleWorkflow

WORKFLOWS = [BookingWorkflow, CancellationWorkflow, RescheduleWorkflow]


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


def worker_metrics() -> WorkerMetrics:
    return WorkerMetrics(
        refusals=[error.__name__ for error in BUSINESS_ERRORS],
        workflows=[workflow.__name__ for workflow in WORKFLOWS],
    )


def outcomes(metrics: WorkerMetrics) -> dict[str, float]:
    """The booking outcomes that are not 0."""
    found = {
        outcome: metrics.registry.get_sample_value(
            "appointments_saga_outcomes_total",
            {"workflow": "BookingWorkflow", "outcome": outcome},
        )
        for outcome in ("completed", "refused", "compensated", "failed")
    }
    return {outcome: count for outcome, count in found.items() if count}


def steps(metrics: WorkerMetrics, activity: str, outcome: str) -> float:
    count = metrics.registry.get_sample_value(
        "appointments_saga_step_seconds_count", {"activity": activity, "outcome": outcome}
    )
    return count or 0.0


async def book(env: WorkflowEnvironment, metrics: WorkerMetrics, world: FakeWorld) -> None:
    """One booking on a worker that keeps no workflow in its cache (so every workflow
    task replays the history so far), a query on the closed run (another replay), then
    its history replayed with the same interceptor: only the first run may count."""
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=world.activities(),
        interceptors=[SagaMetricsInterceptor(metrics.sagas)],
        max_cached_workflows=0,
    ):
        handle = await env.client.start_workflow(
            BookingWorkflow.run, request(), id=f"booking-{uuid.uuid4()}", task_queue=queue
        )
        with contextlib.suppress(WorkflowFailureError):  # refused or compensated on purpose
            await handle.result()
        assert await handle.query(BookingWorkflow.progress) is not None
        history = await handle.fetch_history()
    replayer = Replayer(
        workflows=WORKFLOWS,
        interceptors=[SagaMetricsInterceptor(metrics.sagas)],
        data_converter=ENCRYPTED,
    )
    await replayer.replay_workflow(history)  # deterministic with the interceptor, uncounted


async def test_a_completed_booking_counts_once_and_times_every_step(
    env: WorkflowEnvironment,
) -> None:
    metrics = worker_metrics()

    await book(env, metrics, FakeWorld())

    assert outcomes(metrics) == {"completed": 1.0}
    for activity in HAPPY:
        assert steps(metrics, activity, "ok") == 1.0, activity
        assert steps(metrics, activity, "error") == 0.0, activity


async def test_a_refused_booking_counts_as_refused(env: WorkflowEnvironment) -> None:
    metrics = worker_metrics()
    world = FakeWorld(failures={"check_availability": [refusal("SlotUnavailable")]})

    await book(env, metrics, world)

    assert outcomes(metrics) == {"refused": 1.0}
    assert steps(metrics, "check_availability", "error") == 1.0


async def test_a_fault_the_saga_undoes_counts_as_compensated(env: WorkflowEnvironment) -> None:
    metrics = worker_metrics()
    world = FakeWorld(failures={"create_invoice": [transient() for _ in range(5)]})

    await book(env, metrics, world)

    assert outcomes(metrics) == {"compensated": 1.0}
    assert steps(metrics, "create_invoice", "error") == 5.0  # every attempt
    assert steps(metrics, "release_slot", "ok") == 1.0
    assert steps(metrics, "mark_failed", "ok") == 1.0
