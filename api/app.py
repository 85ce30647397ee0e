"""The FastAPI application: REST under /api/v1, Swagger at /docs, health under /health."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from temporalio.converter import PayloadCodec

from api import middleware, problems, schemas
from api.actions import router as action_links_router
from api.docs import pages as docs_pages
from api.fhir.router import fhir_router
from api.graphql import graphql_router
from api.routes import appointments, health, metrics, schedule, transitions, waitlist
from api.routes import codec as codec_endpoint
from api.security.tokens import TokenVerifier
from application.services import Services
from config import Settings, load_settings
from telemetry.http import HttpMetricsMiddleware
from telemetry.metrics import ApiMetrics

# Connects the use cases to their adapters for the app's lifetime (``adapters.wiring``).
# The metrics are the app's: the connector tells them what to watch (breakers, outbox).
Connect = Callable[[Settings, ApiMetrics], AbstractAsyncContextManager[Services]]

DESCRIPTION = """
Schedules, books, confirms, reschedules, cancels and completes appointments of the
smart clinic. Booking runs as a saga on Temporal (`BookingWorkflow`): patient check,
availability, slot hold, persistence, invoice, with compensation on failure.

Every call needs a Bearer JWT (the **Authorize** button): `make run` prints one per role,
and `appointment-service token --role <role> --sub <id>` makes more. Errors are
`application/problem+json` (RFC 9457). Send an `Idempotency-Key` with every booking so a
retried request never books twice.
"""


def create_app(
    settings: Settings | None = None,
    connect: Connect | None = None,
    codec: PayloadCodec | None = None,
) -> FastAPI:
    """The API. Every door (REST, GraphQL) calls the use cases in ``app.state.services``,
    which ``connect`` makes when the app starts; without it (tests that set the state by
    hand) nothing is connected. With a payload ``codec`` (payload encryption on), the
    Temporal Web UI's codec endpoint is served too (``api.routes.codec``)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.verifier = verifier = TokenVerifier.from_settings(settings)
        try:
            if connect is None:
                yield
                return
            async with connect(settings, app.state.metrics) as services:
                app.state.services = services
                # What startup made lives as long as the app: out of the collector's
                # sight, a full collection no longer walks it (issue #18: a busy week's
                # GraphQL read p50 8.4-8.7 -> 7.3-7.6 ms, p99 15-16 -> 12-14 ms).
                gc.freeze()
                yield
        finally:
            await verifier.aclose()

    app = FastAPI(
        title="Appointment Service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI and ReDoc from CDNs: ours are served from
        # here (api.docs), so they work on a network without internet access.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "appointments", "description": "Booking and reading appointments"},
            {
                "name": "waitlist",
                "description": "Waiting for a freed slot, and answering its offer",
            },
            {"name": "health", "description": "Probes"},
        ],
    )
    app.state.settings = settings
    app.state.metrics = telemetry = ApiMetrics()
    problems.install(app)
    middleware.install(app, max_body_bytes=settings.max_body_bytes)
    if codec is not None:  # the Web UI calls the codec from another origin
        app.add_middleware(codec_endpoint.CodecCors, origins=settings.codec_origins)
    # Outermost: the answers of every layer inside (413s, 500s) are counted too.
    app.add_middleware(HttpMetricsMiddleware, instruments=telemetry.http)
    app.include_router(appointments.router)
    app.include_router(transitions.router)
    app.include_router(schedule.router)
    app.include_router(waitlist.router)
    app.include_router(graphql_router)
    app.include_router(fhir_router)  # /fhir/R4: the FHIR door (api/fhir/)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(action_links_router)  # /a/{token}: patients' confirm and cancel links
    docs_pages.install(app)
    if codec is not None:
        app.state.codec = codec
        app.include_router(codec_endpoint.router)
    _document_problems(app, settings)
    return app


def _document_problems(app: FastAPI, settings: Settings) -> None:
    """``app.openapi()`` as FastAPI makes it, then every error response made the Problem
    it is (``problems.document_problems``) and the configured limits stated
    (``schemas.state_configured_limits``); made once, kept in ``app.openapi_schema``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = problems.document_problems(generate())
            app.openapi_schema = schemas.state_configured_limits(document, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
