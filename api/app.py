"""The FastAPI application: REST under /api/v1, Swagger at /docs, health under /health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import middleware, problems
from api.appointment_sagas import AppointmentSagas
from api.booking import BookingService
from api.graphql import graphql_router
from api.routes import appointments, health, metrics, schedule, transitions
from api.security.tokens import TokenVerifier
from config import Settings, load_settings
from messaging.status import relay_status
from peers import Peers
from persistence import AppointmentStore, connect
from projections.queries import ScheduleQueries
from telemetry.http import HttpMetricsMiddleware
from telemetry.metrics import ApiMetrics
from workflows.client import connect_temporal

DESCRIPTION = """
Schedules, books, confirms, reschedules, cancels and completes appointments of the
smart clinic. Booking runs as a saga on Temporal (`BookingWorkflow`): patient check,
availability, slot hold, persistence, invoice, with compensation on failure.

Every call needs a Bearer JWT (the **Authorize** button): `make run` prints one per role,
and `appointment-service token --role <role> --sub <id>` makes more. Errors are
`application/problem+json` (RFC 9457). Send an `Idempotency-Key` with every booking so a
retried request never books twice.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = await connect(settings)
        temporal = await connect_temporal(settings)
        store = AppointmentStore(mongo, settings.kafka_topic)
        app.state.mongo = mongo
        app.state.temporal = temporal
        app.state.store = store
        app.state.booking = BookingService(temporal, store, settings)
        app.state.sagas = AppointmentSagas(temporal, store, settings)
        app.state.verifier = TokenVerifier.from_settings(settings)
        # The schedule's free slots ask the Doctor Service for working hours and grid. The
        # peers (and their circuit breakers, which readiness reports) live for the app.
        peers = Peers.from_settings(settings)
        app.state.peers = peers
        app.state.schedule = ScheduleQueries(
            mongo[settings.mongo_database], peers.doctors, settings
        )
        # /metrics reads these at each scrape: the breakers, and the outbox's backlog.
        app.state.metrics.watch(
            breakers=lambda: peers.breakers,
            outbox=lambda: relay_status(mongo[settings.mongo_database]),
        )
        try:
            yield
        finally:
            await peers.aclose()
            await mongo.close()

    app = FastAPI(
        title="Appointment Service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "appointments", "description": "Booking and reading appointments"},
            {"name": "health", "description": "Probes"},
        ],
    )
    app.state.settings = settings
    app.state.metrics = telemetry = ApiMetrics()
    problems.install(app)
    middleware.install(app, max_body_bytes=settings.max_body_bytes)
    # Outermost: the answers of every layer inside (413s, 500s) are counted too.
    app.add_middleware(HttpMetricsMiddleware, instruments=telemetry.http)
    app.include_router(appointments.router)
    app.include_router(transitions.router)
    app.include_router(schedule.router)
    app.include_router(graphql_router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """``app.openapi()`` as FastAPI makes it, then every error response made the Problem
    it is (``problems.document_problems``); made once, kept in ``app.openapi_schema``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
