"""A slot hold lives a few minutes at the Doctor Service. The steps between taking it and
confirming it race a durable workflow timer that fires when the hold expires: a hold is
never confirmed late, and never left to a best-effort cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import HeldSlot

T = TypeVar("T")

HOLD_EXPIRED = "HoldExpired"
# Runs started before this guard existed have no timer in their history: they replay
# (and finish) without it.
_PATCH = "hold-expiry-timer"


async def before_the_hold_expires(held: HeldSlot, steps: Callable[[], Awaitable[T]]) -> T:
    """Run ``steps`` against a timer that fires at the hold's ``expires_at``, as the
    Doctor Service (whose clock expires it) answered it. If the timer wins, the running
    step is cancelled and the saga fails with the non-retryable ``HoldExpired``, so its
    compensations run: release the hold, mark the appointment FAILED, void the invoice.

    Deterministic: the timer's length comes from ``workflow.now()`` and an activity's
    result, both in the history. The timer is durable: a worker that is down when it fires
    finds it fired, and compensates, when it comes back."""
    if not workflow.patched(_PATCH):
        return await steps()
    remaining = held.expires_at - workflow.now()
    if remaining <= timedelta(0):
        raise _expired(held)
    racing = asyncio.ensure_future(steps())
    try:
        await workflow.wait_condition(
            racing.done, timeout=remaining, timeout_summary="the slot hold expires"
        )
    except TimeoutError:
        await _stopped(racing)
        raise _expired(held) from None
    except BaseException:  # the run is cancelled: stop the steps, then compensate
        await _stopped(racing)
        raise
    return racing.result()


async def _stopped(racing: asyncio.Future[Any]) -> None:
    """Cancel the running step and wait until it has stopped, so no step of the race
    starts after the compensations did."""
    racing.cancel()
    try:
        await racing
    except BaseException:  # the step's cancellation; the expiry is what the saga reports
        workflow.logger.info("step cancelled: the slot hold expired or the run was cancelled")


def _expired(held: HeldSlot) -> ApplicationError:
    return ApplicationError(
        f"the slot hold {held.hold_id} expired at {held.expires_at.isoformat()} before the "
        "booking was confirmed; the slot may still be free: retry with a new Idempotency-Key",
        type=HOLD_EXPIRED,
        non_retryable=True,
    )
