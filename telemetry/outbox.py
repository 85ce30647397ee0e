"""The outbox's backlog and age as metrics, from ``messaging.status.relay_status``.

The numbers come from the outbox itself (a MongoDB query), so they are right whether or not
a relay runs; that is the point, the backlog grows while none does (``telemetry.scraped``:
read at scrape time, left out when the query fails)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from messaging.status import RelayStatus
from telemetry.naming import PREFIX
from telemetry.scraped import ScrapedStatus

StatusFetch = Callable[[], Awaitable[RelayStatus]]


class OutboxCollector(ScrapedStatus[RelayStatus]):
    subject = "outbox"

    def gauges(self, status: RelayStatus) -> Iterator[Metric]:
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
