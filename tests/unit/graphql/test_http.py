"""/graphql over HTTP, in-process: GraphiQL without a token (a request without a valid one
is refused as at REST: tests/unit/api/test_doors_agree.py), one operation per POST,
and whatever Strawberry refuses answered as a problem document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.graphql import graphql_router
from api.graphql.context import wants_graphiql
from api.security.tokens import TokenVerifier, issue_local_token
from application.permissions import Role
from config import Settings
from tests.asgi import client_of
from tests.fakes import World
from tests.unit.graphql.conftest import FakeSchedule, calendars

PROBLEM_JSON = "application/problem+json"
QUERY = {"query": '{ freeSlots(doctorId: "doc-on-call", day: "2030-01-07") { start end } }'}


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)  # no lifespan: the state a request needs, set by hand
    issue_local_token(settings, Role.STAFF, "warm-up")  # makes the local secret
    app.state.verifier = TokenVerifier.from_settings(settings)
    # An empty read view (its calls kept for the tests): the one slot of the week is free.
    app.state.schedule = schedule = FakeSchedule(rows=[])
    app.state.services = World(settings=settings, view=schedule, calendars=calendars()).services
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as client:
        yield client


def bearer(
    settings: Settings, role: Role = Role.STAFF, subject: str = "frontdesk-1"
) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_local_token(settings, role, subject)}"}


async def test_an_operation_with_a_token_answers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    answer = await client.post("/graphql", json=QUERY, headers=bearer(settings))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "data": {
            "freeSlots": [
                {"start": "2030-01-07T08:00:00+00:00", "end": "2030-01-07T08:15:00+00:00"}
            ]
        }
    }
    assert answer.headers["X-Request-ID"]


async def test_graphiql_loads_without_a_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("/graphql", headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert "graphiql" in answer.text.lower()


@pytest.mark.parametrize(
    ("method", "path", "accept", "expected"),
    [
        ("GET", "/graphql", "text/html", True),
        ("GET", "/graphql", "*/*", True),
        ("GET", "/graphql?query={__typename}", "text/html", False),
        ("GET", "/graphql", "application/json", False),
        ("POST", "/graphql", "text/html", False),
    ],
)
def test_only_the_graphiql_page_goes_without_a_token(
    method: str, path: str, accept: str, expected: bool
) -> None:
    from starlette.requests import Request

    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": raw_path,
        "query_string": query.encode(),
        "headers": [(b"accept", accept.encode())],
    }
    assert wants_graphiql(Request(scope)) is expected


async def test_a_query_by_get_is_refused_even_with_a_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Operations go by POST only: ids in URLs end up in access logs and browser history.
    answer = await client.get("/graphql", params=QUERY, headers=bearer(settings))
    assert answer.status_code == 400
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["type"].endswith("/graphql-bad-request")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]', "application/json"),
        (b"{ __typename }", "text/plain"),
        (b"{not json", "application/json"),
        (b"{}", "application/json"),
    ],
    ids=["batch", "not-json-content", "malformed-json", "no-query"],
)
async def test_what_strawberry_refuses_is_a_400_problem(
    client: httpx.AsyncClient, settings: Settings, body: bytes, content_type: str
) -> None:
    headers = bearer(settings) | {"Content-Type": content_type}
    answer = await client.post("/graphql", content=body, headers=headers)

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    assert problem["type"].endswith("/graphql-bad-request")
    assert problem["status"] == 400
    assert problem["detail"]


async def test_graphql_is_not_in_the_openapi_document(app: FastAPI) -> None:
    assert not [path for path in app.openapi()["paths"] if path.startswith("/graphql")]


def test_there_is_no_websocket_endpoint() -> None:
    # No subscriptions: GET (GraphiQL) and POST (operations) only.
    routes = [
        (getattr(r, "path", None), sorted(getattr(r, "methods", ()))) for r in graphql_router.routes
    ]
    assert routes == [("/graphql", ["GET"]), ("/graphql", ["POST"])]
