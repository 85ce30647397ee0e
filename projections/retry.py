"""Waiting out a fault without ignoring a shutdown: exponential backoff that a stop
request interrupts."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass


class Stopping(Exception):
    """Shutdown was asked while waiting out a fault. The batch at hand is abandoned and
    its checkpoint not saved, so the next start projects it again: nothing is skipped."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays of ``initial * factor**attempt`` seconds, at most ``maximum``."""

    initial: float = 0.2
    maximum: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * self.factor ** min(attempt, 32)))


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or raise ``Stopping`` as soon as ``stop`` is set."""
    if stop.is_set():
        raise Stopping
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    if stop.is_set():
        raise Stopping
