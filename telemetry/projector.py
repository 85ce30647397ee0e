"""The read view's lag as metrics, from ``projections.status.projector_status``.

Read from MongoDB (the checkpoint and the event store), so it is right whether or not a
projector runs (``telemetry.scraped``: read at scrape time, left out when the query
fails)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric

from telemetry.naming import PREFIX
from telemetry.scraped import ScrapedStatus


class ProjectorStatus(Protocol):
    """What the collector reads (``projections.status.ProjectorStatus`` fits). A protocol,
    not that class: the API imports this package and must not load the read side."""

    @property
    def checkpointed_at(self) -> datetime | None: ...

    @property
    def lag_seconds(self) -> float: ...


ProjectorFetch = Callable[[], Awaitable[ProjectorStatus]]


class ProjectorCollector(ScrapedStatus[ProjectorStatus]):
    subject = "projector"

    def gauges(self, status: ProjectorStatus) -> Iterator[Metric]:
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
