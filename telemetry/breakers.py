"""The peers' circuit breakers as metrics: which state each is in, and how often it opened.

Read from the breakers themselves (``Peers.breakers``) rather than counted on every
change, so the numbers cannot drift from the truth. The reading is a snapshot taken by
``refresh()`` on the event loop: reading ``state`` moves an open breaker whose pause is
over to half-open (and tells its listeners), which must not happen on an exporter thread
while the loop is using the same breaker."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from loguru import logger
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry.naming import PREFIX

# The states of ``peers.breaker.BreakerState``; used only if a breaker's state is a plain
# string rather than that enum (whose members are listed from the enum itself).
KNOWN_STATES: tuple[str, ...] = ("closed", "open", "half_open")


class BreakerLike(Protocol):
    """What the collector reads of a breaker (``peers.breaker.CircuitBreaker`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def opened_total(self) -> int: ...


BreakerSource = Callable[[], Iterable[BreakerLike]]


@dataclass(frozen=True)
class _Reading:
    peer: str
    state: str
    states: tuple[str, ...]
    opened_total: int


def _read(breaker: BreakerLike) -> _Reading:
    state = breaker.state
    if isinstance(state, Enum):
        current = str(state.value)
        states = tuple(str(member.value) for member in type(state))
    else:
        current = str(state)
        states = KNOWN_STATES if current in KNOWN_STATES else (*KNOWN_STATES, current)
    return _Reading(breaker.name, current, states, breaker.opened_total)


class BreakerCollector(Collector):
    """``appointments_peer_breaker_state{peer, state}``: 1 for the current state, 0 for the
    others, so ``max by (peer) (...{state="open"})`` alerts and a dashboard shows every state.
    ``appointments_peer_breaker_opened_total{peer}``: a counter (it only grows while the
    process lives, and restarts from 0 with it), so ``increase()`` counts openings."""

    def __init__(self, source: BreakerSource | None = None) -> None:
        self._source = source
        self._readings: tuple[_Reading, ...] = ()
        self._failing = False

    def watch(self, source: BreakerSource) -> None:
        self._source = source

    def refresh(self) -> None:
        """Take the snapshot; call it on the thread that owns the breakers."""
        if self._source is None:
            return
        try:
            self._readings = tuple(_read(breaker) for breaker in self._source())
            self._failing = False
        except Exception:
            self._readings = ()
            if not self._failing:  # once per outage, not once per scrape
                logger.opt(exception=True).error("peer breakers unreadable for metrics")
            self._failing = True

    def collect(self) -> Iterator[Metric]:
        readings = self._readings  # one snapshot for the whole scrape
        state = GaugeMetricFamily(
            f"{PREFIX}_peer_breaker_state",
            "The circuit breaker's state for calls to a peer service: 1 for the current one",
            labels=["peer", "state"],
        )
        opened = CounterMetricFamily(
            f"{PREFIX}_peer_breaker_opened",
            "How often the peer's circuit breaker opened since the process started",
            labels=["peer"],
        )
        for reading in readings:
            for name in reading.states:
                state.add_metric([reading.peer, name], 1.0 if name == reading.state else 0.0)
            opened.add_metric([reading.peer], float(reading.opened_total))
        yield state
        yield opened
