"""Gauges of a state read from MongoDB at scrape time (the outbox's backlog, the read
view's lag), so they are right whether or not the process that works on that state runs.

The query runs in ``refresh()`` with a short timeout, so a slow MongoDB costs a scrape at
most that long and never hangs it. When the query fails or times out,
``appointments_<subject>_status_up`` is 0 and the other gauges are left out of the scrape:
a stale number would look healthy, an absent one is what ``absent()`` alerts catch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import ClassVar, Generic, TypeVar

from loguru import logger
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry.naming import PREFIX

# Well under Prometheus' default scrape timeout (10 s), and what /health/ready allows too.
QUERY_TIMEOUT_SECONDS = 2.0

S = TypeVar("S")


class ScrapedStatus(Collector, Generic[S]):
    """Reads a status with ``fetch`` in ``refresh()``; ``gauges`` turns it into metrics."""

    subject: ClassVar[str]  # "outbox", "projector": names the up gauge and the log line

    def __init__(
        self,
        fetch: Callable[[], Awaitable[S]] | None = None,
        timeout_seconds: float = QUERY_TIMEOUT_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._timeout = timeout_seconds
        self._status: S | None = None
        self._failing = False

    def watch(self, fetch: Callable[[], Awaitable[S]]) -> None:
        self._fetch = fetch

    async def refresh(self) -> None:
        if self._fetch is None:
            return
        try:
            self._status = await asyncio.wait_for(self._fetch(), self._timeout)
            self._failing = False
        except Exception as error:  # TimeoutError included; the scrape must still answer
            self._status = None
            if not self._failing:  # once per outage, not once per scrape
                logger.warning("{} status unavailable for metrics: {!r}", self.subject, error)
            self._failing = True

    def collect(self) -> Iterator[Metric]:
        if self._fetch is None:
            return  # this process does not watch this state
        status = self._status  # one snapshot for the whole scrape
        yield GaugeMetricFamily(
            f"{PREFIX}_{self.subject}_status_up",
            f"1 if the last {self.subject} status query answered in time; 0 leaves the "
            f"{self.subject} gauges out",
            value=0.0 if status is None else 1.0,
        )
        if status is not None:
            yield from self.gauges(status)

    def gauges(self, status: S) -> Iterator[Metric]:
        raise NotImplementedError
