"""all_three: three reads at once, their failures in the order given."""

from __future__ import annotations

import asyncio

import pytest

from application.concurrently import all_three


class First(Exception):
    pass


class Second(Exception):
    pass


async def _after(delay: float, value: int) -> int:
    await asyncio.sleep(delay)
    return value


async def _fails(delay: float, error: Exception) -> int:
    await asyncio.sleep(delay)
    raise error


async def test_the_three_run_at_once_and_answer_in_order() -> None:
    started: list[str] = []
    gate = asyncio.Event()

    async def waits_for_the_others(name: str, value: int) -> int:
        started.append(name)
        if len(started) == 3:
            gate.set()
        await gate.wait()  # only returns once all three have started
        return value

    answer = await asyncio.wait_for(
        all_three(
            waits_for_the_others("a", 1),
            waits_for_the_others("b", 2),
            waits_for_the_others("c", 3),
        ),
        timeout=5,
    )
    assert answer == (1, 2, 3)


async def test_the_first_failure_in_order_wins_even_when_a_later_one_fails_sooner() -> None:
    with pytest.raises(First):
        await all_three(_fails(0.05, First()), _fails(0.0, Second()), _after(0.0, 3))


async def test_what_still_runs_is_cancelled_once_one_fails() -> None:
    slow = asyncio.ensure_future(_after(60, 3))
    with pytest.raises(First):
        await all_three(_fails(0.0, First()), _after(0.0, 2), slow)
    await asyncio.sleep(0)
    assert slow.cancelled()
