"""Every error leaves as an RFC 9457 problem document, and an unexpected one reveals
nothing: no stack trace, no database message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo.errors import ServerSelectionTimeoutError
from temporalio.service import RPCError, RPCStatusCode

from api import middleware, problems
from application.permissions import Forbidden, NotVisible
from domain.errors import IllegalTransition, SlotUnavailable
from tests.asgi import client_of


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
    async with client_of(app) as client:
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


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(10):
        yield b'{"count": 1' + b" " * 20


@pytest.mark.parametrize(
    "send",
    [
        pytest.param({"content": b'{"count": 1' + b" " * 200 + b"}"}, id="announced"),
        pytest.param({"content": _chunks}, id="streamed"),
    ],
)
async def test_a_body_over_the_limit_is_a_413_problem_with_the_request_id(
    send: dict[str, object],
) -> None:
    """Announced by Content-Length, BodySizeLimit answers before anything reads the body;
    streamed, the problem handlers do. Either way the same complete problem document, and
    RequestLog (outside BodySizeLimit) gives it the request id."""
    content = send["content"]
    body = content() if callable(content) else content
    answer = await call(app_raising(RuntimeError()), "POST", "/echo", content=body)
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "type": problems.PROBLEM_BASE + "payload-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": "at most 100 bytes",
        "instance": "/echo",
        "request_id": answer.headers["X-Request-ID"],
    }


async def test_a_413_carries_the_servers_request_id_and_echoes_the_callers_beside_it() -> None:
    answer = await call(
        app_raising(RuntimeError()),
        "POST",
        "/echo",
        content=b"x" * 101,
        headers={"X-Request-ID": "caller-id-1"},
    )
    assert answer.status_code == 413
    assert answer.json()["request_id"] == answer.headers["X-Request-ID"] != "caller-id-1"
    assert answer.headers["X-Client-Request-ID"] == "caller-id-1"


async def test_a_problem_carries_extension_members_but_never_over_the_standard_ones() -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/probe")
    async def probe(request: Request) -> JSONResponse:
        extra = {"checks": {"db": "down"}, "status": 200, "type": "about:blank"}
        return problems.problem_response(request, 503, "not-ready", "Not ready", extensions=extra)

    document = (await call(app, "GET", "/probe")).json()
    assert document["checks"] == {"db": "down"}
    assert document["status"] == 503
    assert document["type"] == problems.PROBLEM_BASE + "not-ready"


async def test_a_500_still_carries_the_request_id_to_quote() -> None:
    answer = await call(app_raising(RuntimeError("boom")), "GET", "/boom")
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == answer.json()["request_id"]


@pytest.mark.parametrize(
    "error",
    [
        ServerSelectionTimeoutError("mongo-0:27017: [Errno 111] Connection refused"),
        RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""),
    ],
)
async def test_an_unreachable_database_or_temporal_is_a_503_not_a_500(error: Exception) -> None:
    answer = await call(app_raising(error), "GET", "/boom")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["type"].endswith("/service-unavailable")
    assert "27017" not in answer.text
    assert "refused" not in answer.text
