"""Outbox gauges from a fake status function: the numbers, an empty outbox, and a MongoDB
that is slow or down (the scrape answers within the timeout, without stale numbers)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from messaging.status import RelayStatus
from telemetry.outbox import OutboxCollector

PUBLISHED_AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def status(**overrides: object) -> RelayStatus:
    fields: dict[str, object] = {
        "backlog": 7,
        "parked": 2,
        "oldest_unpublished_age_seconds": 12.5,
        "last_published_at": PUBLISHED_AT,
        **overrides,
    }
    return RelayStatus.model_validate(fields)


def watched(collector: OutboxCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def value(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(f"appointments_outbox_{name}")


async def test_the_gauges_show_the_last_status() -> None:
    async def fetch() -> RelayStatus:
        return status()

    collector = OutboxCollector(fetch)
    registry = watched(collector)
    await collector.refresh()

    assert value(registry, "status_up") == 1.0
    assert value(registry, "backlog") == 7.0
    assert value(registry, "parked") == 2.0
    assert value(registry, "oldest_age_seconds") == 12.5
    assert value(registry, "last_published_timestamp_seconds") == PUBLISHED_AT.timestamp()


async def test_a_drained_outbox_has_age_zero_and_a_silent_relay_no_timestamp() -> None:
    async def fetch() -> RelayStatus:
        return status(backlog=0, oldest_unpublished_age_seconds=None, last_published_at=None)

    collector = OutboxCollector(fetch)
    registry = watched(collector)
    await collector.refresh()

    assert value(registry, "backlog") == 0.0
    assert value(registry, "oldest_age_seconds") == 0.0
    assert value(registry, "last_published_timestamp_seconds") is None


async def test_a_slow_query_times_out_and_leaves_the_gauges_out() -> None:
    answered = [status()]

    async def fetch() -> RelayStatus:
        if not answered:
            await asyncio.sleep(10)
        return answered.pop()

    collector = OutboxCollector(fetch, timeout_seconds=0.05)
    registry = watched(collector)
    await collector.refresh()
    assert value(registry, "backlog") == 7.0

    started = asyncio.get_running_loop().time()
    await collector.refresh()

    assert asyncio.get_running_loop().time() - started < 1.0
    assert value(registry, "status_up") == 0.0
    assert value(registry, "backlog") is None  # not the stale 7


async def test_a_failing_query_reads_as_down() -> None:
    async def fetch() -> RelayStatus:
        raise ConnectionError("MongoDB is down")

    collector = OutboxCollector(fetch)
    registry = watched(collector)
    await collector.refresh()

    assert value(registry, "status_up") == 0.0
    assert value(registry, "parked") is None


async def test_a_process_that_watches_no_outbox_exports_no_outbox_metrics() -> None:
    collector = OutboxCollector()
    registry = watched(collector)
    await collector.refresh()

    assert value(registry, "status_up") is None
