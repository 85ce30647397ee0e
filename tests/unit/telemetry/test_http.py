"""HTTP counts and latencies by method, route template and status: a path with an id
counts under its template, an unknown path under ``unmatched``, an odd method as
``OTHER``, and an exception as the 500 it becomes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from telemetry.http import HttpInstruments, HttpMetricsMiddleware
from tests.asgi import client_of


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def client(registry: CollectorRegistry) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(HttpMetricsMiddleware, instruments=HttpInstruments(registry))
    async with client_of(app) as client:
        yield client


def requests(registry: CollectorRegistry, method: str, route: str, status: str) -> float | None:
    return registry.get_sample_value(
        "appointments_http_requests_total", {"method": method, "route": route, "status": status}
    )


async def test_requests_count_under_the_route_template(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    for item_id in ("a", "b", "c"):
        assert (await client.get(f"/items/{item_id}")).status_code == 200

    assert requests(registry, "GET", "/items/{item_id}", "200") == 3.0
    assert requests(registry, "GET", "/items/a", "200") is None
    seconds = "appointments_http_request_seconds_count"
    labels = {"method": "GET", "route": "/items/{item_id}"}
    assert registry.get_sample_value(seconds, labels) == 3.0


async def test_unknown_paths_and_odd_methods_keep_the_labels_bounded(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    await client.get("/wp-admin/login.php")
    await client.get("/.env")
    await client.request("BREW", "/items/a")

    assert requests(registry, "GET", "unmatched", "404") == 2.0
    assert requests(registry, "OTHER", "/items/{item_id}", "405") == 1.0


async def test_an_exception_counts_as_a_500(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    assert (await client.get("/boom")).status_code == 500

    assert requests(registry, "GET", "/boom", "500") == 1.0
