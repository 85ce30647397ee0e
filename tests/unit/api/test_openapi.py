"""The OpenAPI document says what the API answers: every error is an
application/problem+json Problem, every body limit a documented 413, and the headers
clients rely on are listed. Also the readiness probe, whose both answers are documented."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from api.app import create_app
from config import load_settings
from tests.asgi import client_of
from tests.fakes import World, probed_readiness

PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(load_settings())  # no lifespan: nothing is connected


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_error_response_is_exactly_a_problem(document: dict[str, Any]) -> None:
    errors = [
        (method, path, status, response.get("content"))
        for method, path, operation in _operations(document)
        for status, response in operation["responses"].items()
        if int(status) >= 400
    ]
    assert len(errors) > 50
    assert [e for e in errors if e[3] != PROBLEM_CONTENT] == []
    schemas = document["components"]["schemas"]
    assert {"Problem", "FieldError"} <= set(schemas)
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)


def test_every_operation_that_takes_a_body_documents_413(document: dict[str, Any]) -> None:
    with_body = [(m, p, o) for m, p, o in _operations(document) if "requestBody" in o]
    assert len(with_body) >= 8
    assert [(m, p) for m, p, o in with_body if "413" not in o["responses"]] == []


def test_the_document_is_made_once(app: FastAPI, document: dict[str, Any]) -> None:
    assert app.openapi() is document is app.openapi_schema


def _headers(document: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    headers: dict[str, Any] = document["paths"][path][method]["responses"][status]["headers"]
    return headers


def test_the_headers_clients_rely_on_are_documented(document: dict[str, Any]) -> None:
    book, one = "/api/v1/appointments", "/api/v1/appointments/{appointment_id}"
    assert {"Location", "Idempotency-Key"} <= set(_headers(document, "post", book, "201"))
    assert {"Location", "Retry-After"} <= set(_headers(document, "post", book, "202"))
    for saga in ("cancel", "reschedule"):
        assert {"Location", "Retry-After"} <= set(
            _headers(document, "post", f"{one}/{saga}", "202")
        )
    assert "ETag" in _headers(document, "get", one, "200")
    assert "ETag" in _headers(document, "post", f"{one}/confirm", "200")
    for method, path, operation in _operations(document):
        for status, name in (("401", "WWW-Authenticate"), ("503", "Retry-After")):
            if status in operation["responses"]:
                assert name in _headers(document, method.lower(), path, status), (method, path)


def test_swagger_offers_the_bearer_authorize_button_and_documents_the_booking(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]["Bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    post = document["paths"]["/api/v1/appointments"]["post"]
    assert post["security"] == [{"Bearer": []}]
    assert {"201", "202", "409", "422"} <= set(post["responses"])
    assert document["components"]["schemas"]["BookAppointment"]["examples"]


def test_readiness_documents_both_answers(document: dict[str, Any]) -> None:
    responses = document["paths"]["/health/ready"]["get"]["responses"]
    ok = responses["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Readiness"}
    assert responses["503"]["content"] == PROBLEM_CONTENT


async def test_readiness_answers_503_problem_naming_what_is_down(app: FastAPI) -> None:
    app.state.services = World(readiness=probed_readiness(mongodb_down=True)).services
    async with client_of(app) as client:
        answer = await client.get("/health/ready")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
    problem = answer.json()
    assert problem["type"].endswith("/not-ready")
    assert problem["status"] == 503
    assert problem["checks"] == {"mongodb": "unavailable: TimeoutError", "temporal": "ok"}
    assert problem["detail"] == "mongodb: unavailable: TimeoutError"
    assert problem["request_id"] == answer.headers["x-request-id"]
