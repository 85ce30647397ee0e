"""One process's metrics: its own ``CollectorRegistry`` and the instruments on it.

Made once by the process's composition root and passed down: ``ApiMetrics`` in
``api.app.create_app`` (the HTTP middleware needs it before the app starts, so not in the
lifespan; the lifespan only tells it what to watch), ``WorkerMetrics`` in
``worker.run_worker``. A registry of our own rather than prometheus_client's global
``REGISTRY``: every app or worker built in one process (tests build many) gets its own,
and no instrument lives in a module global."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

from telemetry.breakers import BreakerCollector, BreakerSource
from telemetry.http import HttpInstruments
from telemetry.lifecycle import LifecycleInstruments
from telemetry.outbox import OutboxCollector, StatusFetch
from telemetry.projector import ProjectorCollector, ProjectorFetch
from telemetry.sagas import SagaInstruments


class Metrics:
    """What both processes export: the peers' breakers, the outbox, and the usual
    ``process_*``/``python_*`` metrics that prometheus_client's global registry would have
    carried."""

    def __init__(self) -> None:
        # prometheus_client's process-wide switch: no ``*_created`` series beside every
        # counter and histogram child (they double the series and nothing here reads them).
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.breakers = BreakerCollector()
        self.outbox = OutboxCollector()
        self.registry.register(self.breakers)
        self.registry.register(self.outbox)
        self.projector = ProjectorCollector()
        self.registry.register(self.projector)

    def watch(
        self,
        *,
        breakers: BreakerSource | None = None,
        outbox: StatusFetch | None = None,
        projector: ProjectorFetch | None = None,
    ) -> None:
        """Name what the snapshots read: the process's breakers, its outbox query, the
        read view's lag query."""
        if breakers is not None:
            self.breakers.watch(breakers)
        if outbox is not None:
            self.outbox.watch(outbox)
        if projector is not None:
            self.projector.watch(projector)

    async def refresh(self) -> None:
        """Take the snapshots; on the event loop, which owns the breakers and the MongoDB
        client. Never raises, and takes at most the outbox query's timeout."""
        self.breakers.refresh()
        await self.outbox.refresh()
        await self.projector.refresh()

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition and its content type, in the format the scraper's ``Accept``
        asks for (Prometheus text by default, OpenMetrics on request)."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class ApiMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__()
        self.http = HttpInstruments(self.registry)
        # Confirmations by channel, check-ins and staff's no-shows
        # (application.ports.LifecycleCounts, given to the use cases by adapters.wiring).
        self.lifecycle = LifecycleInstruments(self.registry)


class WorkerMetrics(Metrics):
    def __init__(self, *, refusals: Collection[str], workflows: Iterable[str] = ()) -> None:
        """``refusals``: the error types that are business refusals; ``workflows``: the
        workflow types whose outcomes are exported from the start, at 0."""
        super().__init__()
        self.sagas = SagaInstruments(self.registry, refusals)
        self.sagas.prime(workflows)
        # Imported here: it pulls in the journey's activities, which the API (importing
        # this module for ApiMetrics) must never load (tests/unit/test_architecture.py).
        from telemetry.journey import JourneyInstruments
        from telemetry.waitlist import WaitlistInstruments

        # Reminders sent and the journey's no-shows: JourneyActivities(metrics=...).
        self.journey = JourneyInstruments(self.registry)
        # Offers sent and closed, rounds by outcome: WaitlistActivities(metrics=...).
        self.waitlist = WaitlistInstruments(self.registry)
