"""The closed-loop driver: N workers run one operation back to back for a fixed time.

Each round has an untimed ``prepare`` (picking a free slot, a random window) and the timed
``operation`` on what it prepared, so the bookkeeping of the benchmark never counts as
latency of the service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bench.cpu import cpu_percent
from bench.stats import Summary, summarize

T = TypeVar("T")
KEPT_ERRORS = 5  # how many error messages a run keeps (the first ones)


class OperationError(Exception):
    """An operation that completed without success (e.g. an HTTP status other than the one
    expected); its message is what the report shows."""


def describe(error: BaseException, limit: int = 300) -> str:
    """A one-line account of ``error`` for the report, cut at ``limit`` characters."""
    text = str(error) if isinstance(error, OperationError) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


CpuProbe = Callable[[], dict[str, float]]  # CPU seconds so far, by process


@dataclass(frozen=True)
class LoopResult:
    summary: Summary
    started_at: float  # epoch seconds, when the measured part began
    ended_at: float  # ... and when its last operation completed
    cpu_percent: dict[str, float] = field(default_factory=dict)  # by process, % of one core


@dataclass
class _Tally(Generic[T]):
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)

    def failed(self, error: BaseException) -> None:
        self.errors += 1
        if len(self.first_errors) < KEPT_ERRORS:
            self.first_errors.append(describe(error))


async def closed_loop(
    prepare: Callable[[], Awaitable[T]],
    operation: Callable[[T], Awaitable[None]],
    *,
    concurrency: int,
    seconds: float,
    warmup_seconds: float = 0.0,
    cpu: CpuProbe | None = None,
) -> LoopResult:
    """Run ``operation`` with ``concurrency`` workers, each starting the next round as soon
    as its last one completed: ``warmup_seconds`` unmeasured, then ``seconds`` measured. An
    operation that raises counts as an error. Rounds still running at the deadline are
    awaited and counted: the wall time runs until the last one completes. ``cpu``, if
    given, is asked before and after the measured part for each process's CPU use."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if warmup_seconds > 0:
        await _run(prepare, operation, concurrency, warmup_seconds)
    cpu_before = cpu() if cpu else {}
    started_at, began = time.time(), time.perf_counter()
    tally = await _run(prepare, operation, concurrency, seconds)
    elapsed = time.perf_counter() - began
    used = cpu_percent(cpu_before, cpu(), elapsed) if cpu else {}
    summary = summarize(tally.latencies, tally.errors, elapsed, concurrency, tally.first_errors)
    return LoopResult(summary, started_at, time.time(), used)


async def _run(
    prepare: Callable[[], Awaitable[T]],
    operation: Callable[[T], Awaitable[None]],
    concurrency: int,
    seconds: float,
) -> _Tally[T]:
    deadline = time.perf_counter() + seconds
    tally: _Tally[T] = _Tally()

    async def worker() -> None:
        while time.perf_counter() < deadline:
            prepared = await prepare()
            began = time.perf_counter()
            try:
                await operation(prepared)
            except Exception as error:  # every failure is a counted error, never fatal
                tally.failed(error)
            else:
                tally.latencies.append(time.perf_counter() - began)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return tally
