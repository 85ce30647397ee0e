"""The outbox's backlog and age as metrics, from ``messaging.status.relay_status``.

The numbers come from the outbox itself (a MongoDB query), so they are right whether or not
a relay runs; that is the point, the backlog grows while none does. The query runs in
``refresh()`` with a short timeout, so a slow MongoDB costs a scrape at most that long and
never hangs it. When the query fails or times out, ``appointments_outbox_status_up`` is 0
and the other gauges are left out of the scrape: a stale backlog would look healthy, an
absent one is what ``absent()`` alerts catch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

from loguru import logger
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from messaging.status import RelayStatus
from telemetry.naming import PREFIX

StatusFetch = Callable[[], Awaitable[RelayStatus]]

# Well under Prometheus' default scrape timeout (10 s), and what /health/ready allows too.
QUERY_TIMEOUT_SECONDS = 2.0


class OutboxCollector(Collector):
    def __init__(
        self, fetch: StatusFetch | None = None, timeout_seconds: float = QUERY_TIMEOUT_SECONDS
    ) -> None:
        self._fetch = fetch
        self._timeout = timeout_seconds
        self._status: RelayStatus | None = None
        self._failing = False

    def watch(self, fetch: StatusFetch) -> None:
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
                logger.warning("outbox status unavailable for metrics: {!r}", error)
            self._failing = True

    def collect(self) -> Iterator[Metric]:
        if self._fetch is None:
            return  # this process does not watch an outbox
        status = self._status  # one snapshot for the whole scrape
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_status_up",
            "1 if the last outbox query answered in time; 0 leaves the outbox gauges out",
            value=0.0 if status is None else 1.0,
        )
        if status is None:
            return
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_backlog",
            "Events waiting in the outbox to be published to Kafka (parked ones not counted)",
            value=float(status.backlog),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_parked",
            "Events taken out of the outbox queue after repeated refusals; each waits for "
            "an operator",
            value=float(status.parked),
        )
        age = status.oldest_unpublished_age_seconds
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_age_seconds",
            "How long the oldest waiting event has waited; 0 when none waits",
            value=0.0 if age is None else age,
        )
        if status.last_published_at is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_outbox_last_published_timestamp_seconds",
                "When the relay last marked an event published (Unix time)",
                value=status.last_published_at.timestamp(),
            )
