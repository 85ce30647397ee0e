"""Record today's saga histories, for the replay test to keep them replaying after the
next change of a workflow's commands:

    .venv/bin/python -m tests.workflows.record_histories before-<change> [<run> ...]

writes ``tests/workflows/histories/<run>-before-<change>.json`` for every run of
``test_replay.runs()`` and the offer round (``slot-offer``), or the runs named; commit
them with the change's first step, before the workflow code changes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter

from tests.workflows.server import time_skipping_server
from tests.workflows.test_replay import history_of, runs
from tests.workflows.test_waitlist_offers import round_history

HISTORIES = Path(__file__).parent / "histories"
ROUND = "slot-offer"  # SlotOfferWorkflow: declined, expired, then booked


async def record(suffix: str, names: list[str]) -> None:
    # Recorded unencrypted, so a review can read them; a replayer with the codec passes
    # payloads without its metadata through (test_replay.py).
    async with time_skipping_server(pydantic_data_converter) as env:
        for run in runs():
            if names and run.name not in names:
                continue
            world = run.world()
            history = await history_of(env, run, world)
            (HISTORIES / f"{run.name}-{suffix}.json").write_text(history.to_json())
            print(f"{run.name}: {' '.join(world.calls)}")
        if not names or ROUND in names:  # the offer round, driven as its test drives it
            history = await round_history(env)
            (HISTORIES / f"{ROUND}-{suffix}.json").write_text(history.to_json())
            print(f"{ROUND}: recorded")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1], sys.argv[2:]))
