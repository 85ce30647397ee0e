"""Independent reads of a use case, awaited at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


async def all_three(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C]) -> tuple[A, B, C]:
    """The three results, the awaitables run at once: each mostly waits on a server, not on
    the others. A failure is raised as if they had been awaited one after the other (the
    first one's before the second one's), and what still runs is cancelled: callers keep
    the order of their refusals."""
    first, second, third = (asyncio.ensure_future(a), asyncio.ensure_future(b),
                            asyncio.ensure_future(c))  # fmt: skip
    try:
        return await first, await second, await third
    finally:
        for task in (first, second, third):
            task.cancel()
