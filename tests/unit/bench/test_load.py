"""The closed-loop driver, with fake operations."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bench.load import KEPT_ERRORS, OperationError, closed_loop, describe


async def test_workers_run_back_to_back_and_never_exceed_the_concurrency() -> None:
    running, most = 0, 0
    numbers = itertools.count()

    async def prepare() -> int:
        return next(numbers)

    async def operation(n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1

    result = await closed_loop(prepare, operation, concurrency=3, seconds=0.3)
    summary = result.summary
    assert most == 3
    assert summary.errors == 0
    # 3 workers x ~0.3 s / 0.01 s each: well over a few dozen, never wildly more
    assert 30 <= summary.count <= 100
    assert summary.p50_ms is not None
    assert summary.p50_ms >= 10.0
    assert summary.throughput_per_s == pytest.approx(summary.count / summary.seconds, rel=0.01)
    assert result.ended_at >= result.started_at


async def test_a_raising_operation_is_a_counted_error_with_its_message_kept() -> None:
    calls = itertools.count()

    async def prepare() -> int:
        return next(calls)

    async def operation(n: int) -> None:
        await asyncio.sleep(0.001)
        if n % 2:
            raise OperationError(f"HTTP 409: slot {n} taken")

    result = await closed_loop(prepare, operation, concurrency=2, seconds=0.1)
    summary = result.summary
    assert summary.errors > 0
    assert summary.ok > 0
    assert abs(summary.errors - summary.ok) <= 2
    assert len(summary.first_errors) == KEPT_ERRORS
    assert all(e.startswith("HTTP 409: slot") for e in summary.first_errors)


async def test_the_warm_up_is_not_measured() -> None:
    seen: list[int] = []

    async def prepare() -> None:
        return None

    async def operation(_: None) -> None:
        seen.append(1)
        await asyncio.sleep(0.01)

    result = await closed_loop(prepare, operation, concurrency=1, seconds=0.1, warmup_seconds=0.1)
    assert result.summary.count < len(seen)


async def test_at_least_one_worker() -> None:
    async def nothing(_: None = None) -> None:
        return None

    with pytest.raises(ValueError, match="concurrency"):
        await closed_loop(nothing, nothing, concurrency=0, seconds=1)


def test_errors_are_described_on_one_short_line() -> None:
    assert describe(ValueError("bad\nthing")) == "ValueError: bad thing"
    assert describe(OperationError("HTTP 503: down")) == "HTTP 503: down"
    long = describe(OperationError("x" * 1000), limit=50)
    assert len(long) == 50
    assert long.endswith("…")
