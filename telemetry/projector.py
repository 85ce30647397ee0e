"""The read view's lag as metrics, from ``projections.status.projector_status``.

Read from MongoDB (the checkpoint and the event store), so it is right whether or not a
projector runs. Like the outbox gauges (``telemetry.outbox``): the query runs in
``refresh()`` with a short timeout; when it fails, ``appointments_projector_status_up`` is
0 and the lag is left out of the scrape rather than shown stale."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Protocol

from loguru import logger
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry.naming import PREFIX
from telemetry.outbox import QUERY_TIMEOUT_SECONDS


class ProjectorStatus(Protocol):
    """What the collector reads (``projections.status.ProjectorStatus`` fits). A protocol,
    not that class: the API imports this package and must not load the read side."""

    @property
    def checkpointed_at(self) -> datetime | None: ...

    @property
    def lag_seconds(self) -> float: ...


ProjectorFetch = Callable[[], Awaitable[ProjectorStatus]]


class ProjectorCollector(Collector):
    def __init__(
        self, fetch: ProjectorFetch | None = None, timeout_seconds: float = QUERY_TIMEOUT_SECONDS
    ) -> None:
        self._fetch = fetch
        self._timeout = timeout_seconds
        self._status: ProjectorStatus | None = None
        self._failing = False

    def watch(self, fetch: ProjectorFetch) -> None:
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
                logger.warning("projector status unavailable for metrics: {!r}", error)
            self._failing = True

    def collect(self) -> Iterator[Metric]:
        if self._fetch is None:
            return  # this process does not watch the projector
        status = self._status  # one snapshot for the whole scrape
        yield GaugeMetricFamily(
            f"{PREFIX}_projector_status_up",
            "1 if the last projector status query answered in time; 0 leaves its gauges out",
            value=0.0 if status is None else 1.0,
        )
        if status is None:
            return
        yield GaugeMetricFamily(
            f"{PREFIX}_projector_lag_seconds",
            "Age of the oldest event recorded after the projector's last checkpoint (the "
            "schedule read view may not show it yet); 0 when there is none",
            value=status.lag_seconds,
        )
        if status.checkpointed_at is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_projector_checkpoint_timestamp_seconds",
                "When the projector last saved its checkpoint (Unix time)",
                value=status.checkpointed_at.timestamp(),
            )
