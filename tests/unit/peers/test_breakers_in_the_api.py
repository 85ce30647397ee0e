"""What the API makes of its breakers: readiness (``adapters.readiness``) reports them (an
open one degrades the API, it never makes it unready), and a call refused by an open
breaker is a 503 problem whose Retry-After is the breaker's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from api import problems
from api.app import create_app
from config import load_settings
from domain.errors import PeerUnavailable
from peers import Peers
from peers.breaker import BreakerOpen, BreakerState
from tests.asgi import client_of
from tests.fakes import World, probed_readiness


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with client_of(app) as client:
        return await client.get(path)


@pytest.fixture
async def app() -> AsyncIterator[FastAPI]:
    settings = load_settings(breaker_failure_threshold=1)
    app = create_app(settings)  # no lifespan: the state is set by hand
    app.state.peers = peers = Peers.from_settings(settings)
    readiness = probed_readiness(lambda: peers.breakers)
    app.state.services = World(settings=settings, readiness=readiness).services
    yield app
    await peers.aclose()


async def test_readiness_lists_the_breakers_and_is_ok_while_they_are_closed(app: FastAPI) -> None:
    answer = await get(app, "/health/ready")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "checks": {"mongodb": "ok", "temporal": "ok"},
        "breakers": {"patient": "closed", "doctor": "closed", "billing": "closed"},
    }


async def test_an_open_breaker_degrades_readiness_but_keeps_it_200(app: FastAPI) -> None:
    doctor = app.state.peers.doctors.breaker
    with pytest.raises(PeerUnavailable):
        async with doctor.guard():
            raise PeerUnavailable("doctor", "HTTP 503")
    assert doctor.state is BreakerState.OPEN

    answer = await get(app, "/health/ready")
    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded"
    assert answer.json()["breakers"]["doctor"] == "open"


async def test_a_call_refused_by_an_open_breaker_is_a_503_with_its_retry_after() -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/refused")
    async def refused() -> None:
        raise BreakerOpen("billing", 7.2)

    answer = await get(app, "/refused")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "8"
    assert answer.json()["type"].endswith("/peer-unavailable")
    assert "billing" in answer.json()["detail"].lower()  # "The Billing Service is not ..."


def test_readiness_documents_the_breakers() -> None:
    schema = create_app(load_settings()).openapi()["components"]["schemas"]["Readiness"]
    assert "breakers" in schema["properties"]
    assert set(schema["properties"]["status"]["enum"]) == {"ok", "degraded"}
