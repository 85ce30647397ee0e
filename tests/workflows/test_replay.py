"""Determinism guard: the history of each saga, recorded on the test server, replays
without a non-determinism error against today's workflow code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.models import Caller
from tests.workflows.fakes import FakeWorld, transient
from tests.workflows.test_booking_workflow import request as booking_request
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationRequest, CancellationWorkflow
from workflows.reschedule import RescheduleRequest, RescheduleWorkflow

WORKFLOWS = [BookingWorkflow, CancellationWorkflow, RescheduleWorkflow]
CALLER = Caller(actor="staff:replay")


def runs() -> list[tuple[str, Any, Any, dict[str, list[Exception]]]]:
    soon = datetime.now(UTC) + timedelta(days=4)
    return [
        ("booking", BookingWorkflow.run, booking_request(), {}),
        (
            "booking-compensated",
            BookingWorkflow.run,
            booking_request(),
            {"create_invoice": [transient() for _ in range(5)]},
        ),
        (
            "cancellation",
            CancellationWorkflow.run,
            CancellationRequest(appointment_id="a", fingerprint="f", caller=CALLER),
            {},
        ),
        (
            "reschedule",
            RescheduleWorkflow.run,
            RescheduleRequest(appointment_id="a", start=soon, fingerprint="f", caller=CALLER),
            {},
        ),
    ]


@pytest.mark.parametrize(
    ("name", "run", "arg", "failures"), runs(), ids=lambda v: v if isinstance(v, str) else ""
)
async def test_recorded_history_replays_deterministically(
    workflow_env: WorkflowEnvironment,
    name: str,
    run: Any,
    arg: Any,
    failures: dict[str, list[Exception]],
) -> None:
    world = FakeWorld(failures=dict(failures))
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client, task_queue=queue, workflows=WORKFLOWS, activities=world.activities()
    ):
        handle = await workflow_env.client.start_workflow(
            run, arg, id=f"replay-{name}-{uuid.uuid4()}", task_queue=queue
        )
        try:
            await handle.result()
        except Exception:  # a compensated run fails on purpose; its history is what counts
            assert name.endswith("compensated")
    history = await handle.fetch_history()
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
