"""Waiting for what trails the write model (the read view, the topic, the consumers, a
saga's last step): tests assert the outcome, never the timing. ``within`` is a deadline
against a hang, not a measurement."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.05
# What is awaited, for the failure's message; a function says it as it stands by then
# (what is still missing, say).
What = str | Callable[[], str]


def _not_within(within: float, what: What, value: object) -> AssertionError:
    said = what() if callable(what) else what
    return AssertionError(f"not within {within}s: {said} (last: {value!r})")


def eventually(probe: Callable[[], T | None], within: float = 30.0, what: What = "") -> T:
    """Poll ``probe`` until it answers something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _not_within(within, what, value)
        time.sleep(POLL_SECONDS)


async def eventually_async(
    probe: Callable[[], Awaitable[T | None]], within: float = 30.0, what: What = ""
) -> T:
    """Await ``probe`` until it answers something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _not_within(within, what, value)
        await asyncio.sleep(POLL_SECONDS)
