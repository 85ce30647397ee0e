"""Determinism guard: the history of each saga, recorded on the test server, replays
without a non-determinism error against today's workflow code; so do the histories kept
in ``histories/``, recorded by earlier code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from domain.events import EventContext
from tests.workflows.fakes import FakeWorld, stalled, transient
from tests.workflows.test_booking_workflow import request as booking_request
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.reschedule import RescheduleRequest
from workflows.reschedule import RescheduleWorkflow

WORKFLOWS = [BookingWorkflow, CancellationWorkflow, RescheduleWorkflow]
CALLER = EventContext(actor="staff:replay")


def runs() -> list[tuple[str, Any, Any, dict[str, list[Exception]]]]:
    soon = datetime.now(UTC) + timedelta(days=4)
    billing_down: list[Exception] = [transient() for _ in range(5)]
    return [
        ("booking", BookingWorkflow.run, booking_request(), {}),
        (
            "booking-compensated",
            BookingWorkflow.run,
            booking_request(),
            {"create_invoice": [transient() for _ in range(5)]},
        ),
        (
            # the hold's timer wins over a stalled step
            "booking-hold-expired-compensated",
            BookingWorkflow.run,
            booking_request(),
            {"create_invoice": [stalled(timedelta(minutes=10))]},
        ),
        (
            # billing outage policy "retry": SCHEDULED, then invoiced once Billing is back
            "booking-awaiting-billing",
            BookingWorkflow.run,
            booking_request(billing_outage_policy="retry"),
            {
                "create_invoice": billing_down,
                "create_invoice_when_billing_is_back": [transient() for _ in range(2)],
            },
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
        (
            "reschedule-hold-expired-compensated",
            RescheduleWorkflow.run,
            RescheduleRequest(appointment_id="a", start=soon, fingerprint="f", caller=CALLER),
            {"create_invoice": [stalled(timedelta(minutes=10))]},
        ),
    ]


async def history_of(
    client: Client, name: str, run: Any, arg: Any, world: FakeWorld
) -> WorkflowHistory:
    """The history of the saga ``run`` on the fake activities of ``world``, once it ended
    (a compensated run fails on purpose: its history is what counts)."""
    queue = f"q-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=WORKFLOWS, activities=world.activities()):
        handle = await client.start_workflow(
            run, arg, id=f"{name}-{uuid.uuid4()}", task_queue=queue
        )
        try:
            await handle.result()
        except Exception:
            assert name.endswith("compensated"), name
    return await handle.fetch_history()


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
    history = await history_of(workflow_env.client, name, run, arg, world)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


# Recorded by the code before the hold-expiry timer (and the billing outage policy): runs
# in flight at a deploy must finish on the new code, so each change of the commands a saga
# issues is guarded by workflow.patched() (workflows/hold.py).
BEFORE = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parent / "histories").glob("*.json"))
}


@pytest.mark.parametrize("name", sorted(BEFORE))
async def test_histories_recorded_before_a_change_replay_on_todays_code(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", BEFORE[name])
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
