"""Entries whose window has passed leave by themselves: the worker sweeps them every
minute (``sweep_forever``, an asyncio task beside the worker). Each leaves by the pure
change ``domain.waitlist.leave`` (because WINDOW_PASSED, key ``<entry>/window-passed``,
so a second sweep, or a second worker, writes nothing twice); an entry that changed
meanwhile (ConcurrencyConflict) is left to the next sweep, which reads it again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from loguru import logger

from application.ports import WaitlistRepository
from domain import waitlist
from domain.clock import now_utc
from domain.errors import ConcurrencyConflict
from domain.waitlist import EntryNotActive, LeftBecause
from workflows.contracts.waitlist import ACTOR

EVERY = timedelta(seconds=60)
BATCH = 100


async def sweep_once(repository: WaitlistRepository, now: datetime, limit: int = BATCH) -> int:
    """Up to ``limit`` entries whose window has passed leave; how many did."""
    left = 0
    for entry in await repository.passed(now, limit):
        try:
            change = waitlist.leave(
                entry, LeftBecause.WINDOW_PASSED, now, key=f"{entry.id}/window-passed", actor=ACTOR
            )
            await repository.commit(change)
        except (ConcurrencyConflict, EntryNotActive):
            continue  # changed meanwhile: the next sweep reads it again
        left += 1
    return left


async def sweep_forever(
    repository: WaitlistRepository,
    stop: asyncio.Event,
    every: timedelta = EVERY,
    clock: Callable[[], datetime] = now_utc,
) -> None:
    """Sweep every ``every`` until ``stop`` is set; a failing sweep (the database away) is
    logged and tried again at the next."""
    while not stop.is_set():
        try:
            left = await sweep_once(repository, clock())
            if left:
                logger.info("{} waitlist entries left: their window has passed", left)
        except Exception as error:  # the next sweep tries again
            logger.warning("waitlist sweep failed: {}", error)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every.total_seconds())
        except TimeoutError:
            continue
