"""Percentiles (NumPy's "linear" method) and the summary of a run."""

from __future__ import annotations

import pytest

from bench.stats import percentile, summarize


def test_the_median_of_an_even_count_lies_between_the_middle_two() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5


def test_the_ends_are_the_minimum_and_the_maximum() -> None:
    values = [7.0, 3.0, 9.0, 1.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 9.0


def test_p99_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 95) == pytest.approx(95.05)


def test_one_value_is_every_percentile() -> None:
    assert percentile([42.0], 1) == 42.0
    assert percentile([42.0], 99) == 42.0


def test_no_values_have_no_percentile() -> None:
    assert percentile([], 50) is None


@pytest.mark.parametrize("q", [-1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], q)


def test_a_summary_counts_errors_but_takes_latency_and_throughput_of_successes() -> None:
    summary = summarize([0.010, 0.020, 0.030, 0.040], errors=2, seconds=2.0, concurrency=4)
    assert summary.count == 6
    assert summary.errors == 2
    assert summary.ok == 4
    assert summary.p50_ms == 25.0
    assert summary.max_ms == 40.0
    assert summary.throughput_per_s == 2.0
    assert summary.concurrency == 4


def test_a_summary_without_successes_has_no_latency() -> None:
    summary = summarize([], errors=3, seconds=1.0, concurrency=1, first_errors=["HTTP 503"])
    assert summary.p50_ms is None
    assert summary.p99_ms is None
    assert summary.throughput_per_s == 0.0
    assert summary.first_errors == ["HTTP 503"]
