"""Where the use cases meet their adapters, once per process: the repository is the unit of
work on MongoDB (Beanie), the saga gateway the Temporal client, the calendars the Doctor
Service's client, the schedule the read view. ``create_api`` is the API process's app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from adapters.doctor_desk import DoctorDeskClient
from adapters.readiness import ServiceReadiness
from adapters.temporal import TemporalJourneyNews, TemporalOfferRounds, TemporalSagas
from api.app import create_app
from application.services import Services
from config import Settings, load_settings
from messaging.status import relay_status
from peers import Peers
from persistence import AppointmentStore, connect
from persistence.waitlist_store import WaitlistStore
from projections.queries import ReadView
from projections.status import projector_status
from telemetry.metrics import ApiMetrics
from workflows.client import connect_temporal
from workflows.codec import payload_codec


@asynccontextmanager
async def api_services(settings: Settings, metrics: ApiMetrics) -> AsyncIterator[Services]:
    """The API's use cases on the real adapters, connected for the app's lifetime. The
    peers' clients (and their circuit breakers, which readiness reports) live as long."""
    mongo = await connect(settings)
    temporal = await connect_temporal(settings)
    peers = Peers.from_settings(settings)
    database = mongo[settings.mongo_database]
    # /metrics reads these at each scrape: the breakers, the outbox's backlog, and how far
    # the read view lags behind the event store.
    metrics.watch(
        breakers=lambda: peers.breakers,
        outbox=lambda: relay_status(database),
        projector=lambda: projector_status(database),
    )
    try:
        yield Services.of(
            repository=AppointmentStore(mongo, settings.kafka_topic),
            sagas=TemporalSagas(temporal, settings.temporal_task_queue),
            view=ReadView(database),
            calendars=peers.doctors,
            doctors=peers.doctors,
            readiness=ServiceReadiness(mongo, temporal, lambda: peers.breakers),
            settings=settings,
            waitlist=WaitlistStore(mongo, settings.waitlist_topic),
            rounds=TemporalOfferRounds(temporal, settings.temporal_task_queue, settings),
            desk=DoctorDeskClient(peers.doctors),
            # After each committed change: the journey is told, the change counted.
            news=TemporalJourneyNews(temporal),
            counts=metrics.lifecycle,
        )
    finally:
        await peers.aclose()
        await mongo.close()


def create_api(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    # The API's own Temporal client encrypts with a codec of the same keys (connect_temporal).
    return create_app(settings, connect=api_services, codec=payload_codec(settings))
