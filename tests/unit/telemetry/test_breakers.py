"""Breaker states and openings, read from the breakers at refresh time: from simple fakes
(anything with ``name``, ``state`` and ``opened_total``) and from the real breaker."""

from __future__ import annotations

from enum import StrEnum

import pytest
from prometheus_client import CollectorRegistry

from domain.errors import PeerUnavailable
from peers.breaker import CircuitBreaker
from telemetry.breakers import BreakerCollector
from tests.unit.telemetry.conftest import FakeBreaker


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def registry_with(collector: BreakerCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def state_of(registry: CollectorRegistry, peer: str, state: str) -> float | None:
    return registry.get_sample_value(
        "appointments_peer_breaker_state", {"peer": peer, "state": state}
    )


def test_each_breaker_exports_one_for_its_state_and_zero_for_the_others() -> None:
    breakers = [
        FakeBreaker("patient", State.CLOSED),
        FakeBreaker("doctor", State.OPEN, opened_total=2),
        FakeBreaker("billing", State.HALF_OPEN, opened_total=1),
    ]
    collector = BreakerCollector(lambda: breakers)
    registry = registry_with(collector)
    collector.refresh()

    expected = {"patient": "closed", "doctor": "open", "billing": "half_open"}
    for peer, current in expected.items():
        for state in ("closed", "open", "half_open"):
            assert state_of(registry, peer, state) == (1.0 if state == current else 0.0)
    opened = "appointments_peer_breaker_opened_total"
    assert registry.get_sample_value(opened, {"peer": "doctor"}) == 2.0
    assert registry.get_sample_value(opened, {"peer": "patient"}) == 0.0


def test_the_scrape_shows_the_last_refresh_not_the_live_breaker() -> None:
    breaker = FakeBreaker("doctor", State.CLOSED)
    collector = BreakerCollector(lambda: [breaker])
    registry = registry_with(collector)
    collector.refresh()
    breaker.state = State.OPEN

    assert state_of(registry, "doctor", "closed") == 1.0
    collector.refresh()
    assert state_of(registry, "doctor", "open") == 1.0


def test_a_plain_string_state_still_lists_every_known_state() -> None:
    collector = BreakerCollector(lambda: [FakeBreaker("doctor", "open")])
    registry = registry_with(collector)
    collector.refresh()

    assert state_of(registry, "doctor", "open") == 1.0
    assert state_of(registry, "doctor", "half_open") == 0.0


async def test_the_real_breaker_fits_and_its_openings_count() -> None:
    now = [0.0]
    breaker = CircuitBreaker("billing", failure_threshold=1, reset_seconds=10, clock=lambda: now[0])
    collector = BreakerCollector(lambda: [breaker])
    registry = registry_with(collector)
    with pytest.raises(PeerUnavailable):  # one transient fault opens it (threshold 1)
        async with breaker.guard():
            raise PeerUnavailable("billing", "down")
    collector.refresh()

    assert state_of(registry, "billing", "open") == 1.0
    assert (
        registry.get_sample_value("appointments_peer_breaker_opened_total", {"peer": "billing"})
        == 1.0
    )
    now[0] = 11.0  # the pause is over: read on refresh, it is half-open
    collector.refresh()
    assert state_of(registry, "billing", "half_open") == 1.0


def test_unreadable_breakers_export_nothing_and_do_not_break_the_scrape() -> None:
    def broken() -> list[FakeBreaker]:
        raise AttributeError("no peers yet")

    collector = BreakerCollector(broken)
    registry = registry_with(collector)
    collector.refresh()

    assert state_of(registry, "doctor", "closed") is None
