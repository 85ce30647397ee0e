"""Every error leaves as an RFC 9457 problem document, and an unexpected one reveals
nothing: no stack trace, no database message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from api import middleware, problems
from api.security.permissions import Forbidden, NotVisible
from domain.errors import IllegalTransition, SlotUnavailable


class Body(BaseModel):
    count: int


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    middleware.install(app, max_body_bytes=100)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    @app.post("/echo")
    async def echo(body: Body) -> Body:
        return body

    return app


async def call(app: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (SlotUnavailable("taken"), 409, "slot-unavailable"),
        (IllegalTransition("CANCELLED", "CONFIRMED"), 409, "illegal-transition"),
        (Forbidden("no"), 403, "forbidden"),
        (NotVisible("hidden"), 404, "appointment-not-found"),
    ],
)
async def test_known_errors_map_to_their_status_and_stable_type(
    error: Exception, status: int, code: str
) -> None:
    answer = await call(app_raising(error), "GET", "/boom")
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    document = answer.json()
    assert document["type"] == problems.PROBLEM_BASE + code
    assert document["status"] == status
    assert document["instance"] == "/boom"
    assert document["request_id"] == answer.headers["X-Request-ID"]


async def test_an_illegal_transition_names_the_current_status() -> None:
    answer = await call(app_raising(IllegalTransition("CANCELLED", "CONFIRMED")), "GET", "/boom")
    assert "CANCELLED" in answer.json()["detail"]


async def test_an_unexpected_error_answers_a_generic_500_that_reveals_nothing() -> None:
    secret = "E11000 duplicate key error collection: appointments index: _id_ dup key"
    answer = await call(app_raising(RuntimeError(secret)), "GET", "/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/internal-error")
    assert "E11000" not in answer.text
    assert "Traceback" not in answer.text
    assert "RuntimeError" not in answer.text


async def test_validation_errors_list_each_field() -> None:
    answer = await call(app_raising(RuntimeError()), "POST", "/echo", json={"count": "many"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.count"


async def test_unknown_routes_and_methods_are_problems_too() -> None:
    app = app_raising(RuntimeError())
    assert (await call(app, "GET", "/nowhere")).json()["status"] == 404
    assert (await call(app, "DELETE", "/boom")).json()["status"] == 405


async def test_a_streamed_body_over_the_limit_is_refused_with_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b'{"count": 1' + b" " * 20

    answer = await call(app_raising(RuntimeError()), "POST", "/echo", content=chunks())
    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/payload-too-large")
