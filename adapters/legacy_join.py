"""Compatibility: joining a booking run that cannot answer the ``answer`` update, by its
result, with its progress polled meanwhile.

Two kinds of run need it: one that has ended (update-with-start then fails with
``WorkflowAlreadyStartedError``; its recorded outcome is there at once), and one on a worker
that does not know the update yet, during a deploy from code older than update-with-start.
The first is permanent; the second goes away once no worker older than update-with-start
runs, and this polling with it: ``scheduled_within`` is then only ever asked about ended
runs, which answer at once."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from adapters.answers import booking_progress, outcome_within
from application.results import SagaAnswer, SagaDone
from workflows.contracts import booking
from workflows.contracts.booking import BookingRequest, BookingResult

if TYPE_CHECKING:
    from temporalio.client import WorkflowHandle

    from adapters.temporal import SagaRun, TemporalSagas

# How often a request that joined a run by its result asks whether it has SCHEDULED yet.
PROGRESS_POLL_SECONDS = 0.5


class JoinInstead(Exception):
    """The key's run cannot answer the update: join it by its result instead."""


async def join(
    sagas: TemporalSagas, run: SagaRun, request: BookingRequest, wait_seconds: float
) -> SagaAnswer:
    """The key's run, however it started: its outcome, waited for up to ``wait_seconds``."""
    handle, memo = await sagas.start_or_join(run, request, BookingResult)
    if not await scheduled_within(handle, wait_seconds):
        return await sagas.still_running(run, request)
    return SagaDone(str(memo["appointment_id"]))


async def scheduled_within(handle: WorkflowHandle[Any, Any], wait_seconds: float) -> bool:
    """Whether the saga SCHEDULED the appointment within ``wait_seconds``: its run ended, or
    it waits on Billing for the invoice only (AWAITING_BILLING), which the answer does not
    wait for. A refused or failed saga raises what ``outcome_within`` raises."""
    ended = asyncio.ensure_future(outcome_within(handle, wait_seconds, "booking"))
    try:
        while True:
            done, _ = await asyncio.wait({ended}, timeout=PROGRESS_POLL_SECONDS)
            if done:
                return ended.result() is not None
            progress = await booking_progress(handle)
            if progress is not None and progress.status in booking.ANSWERED:
                return True
    finally:
        ended.cancel()
