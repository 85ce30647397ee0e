"""Record today's saga histories, for the replay test to keep them replaying after the
next change of a workflow's commands:

    .venv/bin/python -m tests.workflows.record_histories before-<change>

writes ``tests/workflows/histories/<run>-before-<change>.json`` for every run of
``test_replay.runs()`` and the few more below; commit them with the change's first step,
before the workflow code changes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from tests.workflows.fakes import FakeWorld, refusal, transient
from tests.workflows.server import time_skipping_server
from tests.workflows.test_booking_workflow import request as booking_request
from tests.workflows.test_replay import CALLER, history_of, runs
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.contracts.cancellation import CancellationRequest
from workflows.reschedule import RescheduleWorkflow

HISTORIES = Path(__file__).parent / "histories"

# (name, workflow run, its input, failures per step, FakeWorld settings)
Run = tuple[str, Any, Any, dict[str, list[Exception]], dict[str, Any]]


def more_runs() -> list[Run]:
    cancellation = CancellationRequest(appointment_id="a", fingerprint="f", caller=CALLER)
    reschedule = next(arg for name, _, arg, _ in runs() if name == "reschedule")
    return [
        ("booking-local-steps", BookingWorkflow.run, booking_request(local_steps=True), {}, {}),
        (
            "booking-local-steps-compensated",
            BookingWorkflow.run,
            booking_request(local_steps=True),
            {"create_invoice": [transient() for _ in range(5)]},
            {},
        ),
        ("cancellation-with-fee", CancellationWorkflow.run, cancellation, {}, {"fee_cents": 2500}),
        (
            "cancellation-with-fee-compensated",
            CancellationWorkflow.run,
            cancellation,
            {"mark_cancelled": [refusal("IllegalTransition")]},
            {"fee_cents": 2500},
        ),
        (
            "reschedule-compensated",
            RescheduleWorkflow.run,
            reschedule,
            {"confirm_slot": [refusal("SlotUnavailable")]},
            {},
        ),
    ]


async def record(suffix: str) -> None:
    every: list[Run] = [(n, r, a, f, {}) for n, r, a, f in runs()] + more_runs()
    async with time_skipping_server() as env:
        for name, run, arg, failures, settings in every:
            world = FakeWorld(failures=dict(failures), **settings)
            history = await history_of(env.client, name, run, arg, world)
            (HISTORIES / f"{name}-{suffix}.json").write_text(history.to_json())
            print(f"{name}: {' '.join(world.calls)}")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1]))
