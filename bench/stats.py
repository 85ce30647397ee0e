"""Percentiles and the summary of one measured run (a load level, a query kind)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between the closest ranks
    (NumPy's default, "linear"); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Summary(BaseModel):
    """What one closed-loop run measured. Latencies are of successful operations only."""

    concurrency: int
    seconds: float  # wall time from the first start to the last completion
    count: int  # operations completed (successes and errors)
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    throughput_per_s: float  # successful operations per second of wall time
    first_errors: list[str] = []

    @property
    def ok(self) -> int:
        return self.count - self.errors


def summarize(
    latencies_s: Sequence[float],
    errors: int,
    seconds: float,
    concurrency: int,
    first_errors: Sequence[str] = (),
) -> Summary:
    """The summary of ``latencies_s`` (seconds, one per successful operation) and
    ``errors`` failed ones, run by ``concurrency`` workers for ``seconds`` of wall time."""

    def ms(q: float) -> float | None:
        value = percentile(latencies_s, q)
        return None if value is None else round(value * 1000, 2)

    ok = len(latencies_s)
    return Summary(
        concurrency=concurrency,
        seconds=round(seconds, 3),
        count=ok + errors,
        errors=errors,
        p50_ms=ms(50),
        p95_ms=ms(95),
        p99_ms=ms(99),
        max_ms=ms(100),
        throughput_per_s=round(ok / seconds, 3) if seconds > 0 else 0.0,
        first_errors=list(first_errors),
    )
