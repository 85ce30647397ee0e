"""The outbox lag from receipts and commit times."""

from __future__ import annotations

import pytest

from bench.outbox import Received, committed_within, figures, lags


def test_the_lag_is_from_the_commit_to_the_first_receipt() -> None:
    received = [
        Received("e1", received_at=100.250, produced_at=100.200),
        Received("e1", received_at=100.900, produced_at=100.850),  # a redelivery
        Received("e2", received_at=101.100, produced_at=101.050),
        Received("e3", received_at=101.500, produced_at=101.450),  # no outbox row known
    ]
    found = {lag.event_id: lag for lag in lags(received, {"e1": 100.0, "e2": 101.0})}
    assert set(found) == {"e1", "e2"}
    assert found["e1"].received_ms == pytest.approx(250.0)
    assert found["e1"].produced_ms == pytest.approx(200.0)
    assert found["e2"].received_ms == pytest.approx(100.0)


def test_only_events_committed_inside_a_window_count() -> None:
    received = [Received(f"e{i}", 10.0 * i + 0.1, 10.0 * i + 0.05) for i in range(5)]
    every = lags(received, {f"e{i}": 10.0 * i for i in range(5)})
    inside = committed_within(every, [(5.0, 15.0), (35.0, 45.0)])
    assert sorted(lag.event_id for lag in inside) == ["e1", "e4"]


def test_figures_in_milliseconds() -> None:
    received = [Received(f"e{i}", i + (i + 1) / 1000, i + 0.0005) for i in range(100)]
    every = lags(received, {f"e{i}": float(i) for i in range(100)})
    found = figures("all", every)
    assert found.count == 100
    assert found.p50_ms == pytest.approx(50.5, abs=0.01)
    assert found.p99_ms == pytest.approx(99.01, abs=0.01)
    assert found.max_ms == pytest.approx(100.0, abs=0.01)
    assert found.produced_p50_ms == pytest.approx(0.5, abs=0.01)


def test_no_events_no_figures() -> None:
    found = figures("none", [])
    assert found.count == 0
    assert found.p99_ms is None
