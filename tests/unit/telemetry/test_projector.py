"""The read view's lag gauges from a fake status function: the numbers, a projector that
never checkpointed, and a MongoDB that is down (no stale lag in the scrape)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from projections.status import ProjectorStatus
from telemetry.metrics import ApiMetrics
from telemetry.projector import ProjectorCollector

SAVED_AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def registry_of(collector: ProjectorCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def value(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(f"appointments_projector_{name}")


async def test_the_gauges_show_the_last_status_and_drop_it_when_the_query_fails() -> None:
    answers: list[ProjectorStatus | Exception] = [
        ProjectorStatus(checkpointed_at=SAVED_AT, lag_seconds=42.5),
        ConnectionError("MongoDB down"),
        ProjectorStatus(checkpointed_at=None, lag_seconds=0.0),
    ]

    async def fetch() -> ProjectorStatus:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    collector = ProjectorCollector(fetch)
    registry = registry_of(collector)
    await collector.refresh()
    assert value(registry, "status_up") == 1.0
    assert value(registry, "lag_seconds") == 42.5
    assert value(registry, "checkpoint_timestamp_seconds") == SAVED_AT.timestamp()

    await collector.refresh()
    assert value(registry, "status_up") == 0.0
    assert value(registry, "lag_seconds") is None

    await collector.refresh()  # never checkpointed: a lag, no timestamp
    assert value(registry, "lag_seconds") == 0.0
    assert value(registry, "checkpoint_timestamp_seconds") is None


async def test_a_process_that_watches_no_projector_exports_nothing_of_it() -> None:
    metrics = ApiMetrics()
    await metrics.refresh()
    assert value(metrics.registry, "status_up") is None

    async def fetch() -> ProjectorStatus:
        return ProjectorStatus(checkpointed_at=SAVED_AT, lag_seconds=3.0)

    metrics.watch(projector=fetch)
    await metrics.refresh()
    assert value(metrics.registry, "lag_seconds") == 3.0
