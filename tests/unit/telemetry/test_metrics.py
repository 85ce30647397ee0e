"""The API's ``GET /metrics`` in-process (no lifespan: the sources set by hand): its
content type, what it carries, no token needed, absent from the OpenAPI document; and one
registry per process object."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from config import load_settings
from messaging.status import RelayStatus
from telemetry.metrics import ApiMetrics, WorkerMetrics
from tests.asgi import client_of
from tests.unit.telemetry.conftest import FakeBreaker

BREAKERS = [FakeBreaker("patient", "closed"), FakeBreaker("doctor", "open", opened_total=1)]


async def outbox_status() -> RelayStatus:
    return RelayStatus(
        backlog=3, parked=0, oldest_unpublished_age_seconds=1.5, last_published_at=None
    )


@pytest.fixture
def app() -> FastAPI:
    app = create_app(load_settings())
    app.state.metrics.watch(breakers=lambda: BREAKERS, outbox=outbox_status)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as client:
        yield client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_answer_without_a_token_in_prometheus_text(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/health/live")
    answer = await client.get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(answer.text)
    live = {("method", "GET"), ("route", "/health/live"), ("status", "200")}
    assert found[("appointments_http_requests_total", frozenset(live))] == 1.0
    doctor_open = {("peer", "doctor"), ("state", "open")}
    assert found[("appointments_peer_breaker_state", frozenset(doctor_open))] == 1.0
    assert found[("appointments_outbox_backlog", frozenset())] == 3.0
    assert found[("appointments_outbox_oldest_age_seconds", frozenset())] == 1.5
    assert ("process_cpu_seconds_total", frozenset()) in found
    assert not any(name.endswith("_created") for name, _ in found)


async def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})

    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")


def test_metrics_are_not_part_of_the_api_contract(app: FastAPI) -> None:
    assert "/metrics" not in app.openapi()["paths"]


def test_each_process_object_has_its_own_registry() -> None:
    first, second = ApiMetrics(), ApiMetrics()
    first.http.observe("GET", "/metrics", 200, 0.01)

    labels = {"method": "GET", "route": "/metrics", "status": "200"}
    name = "appointments_http_requests_total"
    assert first.registry.get_sample_value(name, labels) == 1.0
    assert second.registry.get_sample_value(name, labels) is None
    worker = WorkerMetrics(refusals=["SlotUnavailable"], workflows=["BookingWorkflow"])
    body, _ = worker.render()
    assert b"appointments_saga_outcomes_total" in body
    assert b"appointments_http_requests_total" not in body
