"""The OpenAPI document says what the API answers: every error is an
application/problem+json Problem, every body limit a documented 413, and the headers
clients rely on are listed. Also the readiness probe, whose both answers are documented.
And it states the rules the server enforces (headers, lengths, starts, an edit's fields),
links a booking to what may be done with it, and every path answers OPTIONS and 405 with
the methods it allows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from api.app import create_app
from api.problems import ProblemError
from api.routes.transitions import if_match
from application.errors import InvalidIdempotencyKey
from application.identifiers import idempotency_key
from config import load_settings
from domain.errors import InvalidAppointment
from domain.rules import BookingLimits, validate_requested_time
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
    for saga in ("cancel", "reschedule", "no-show/reversal"):
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


# --- the schema states the rules the server enforces (issue 14) ------------------------

BOOKINGS = "/api/v1/appointments"
ONE = "/api/v1/appointments/{appointment_id}"


def _header(operation: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in operation.get("parameters", []) if p["name"].lower() == name.lower()]
    schema: dict[str, Any] = found["schema"]
    return schema


def _with_header(document: dict[str, Any], name: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, _header(operation, name))
        for method, path, operation in _operations(document)
        if any(p["name"].lower() == name.lower() for p in operation.get("parameters", []))
    ]


@pytest.mark.parametrize("name", ["If-Match", "Idempotency-Key", "Prefer"])
def test_an_optional_header_is_a_string_never_null(document: dict[str, Any], name: str) -> None:
    """``str | None`` documented as string-or-null made clients send the text "null"."""
    found = _with_header(document, name)
    assert len(found) >= 3, name
    assert [(m, p) for m, p, schema in found if schema.get("type") != "string"] == []


IF_MATCH = {'"3"': True, "3": True, "*": True, '"123456789"': True, "null": False,
            '"3': False, 'W/"3"': False, '"three"': False, "": False,
            "1234567890": False}  # fmt: skip


@pytest.mark.parametrize(("value", "valid"), IF_MATCH.items())
def test_if_match_pattern_is_the_servers_rule(
    document: dict[str, Any], value: str, valid: bool
) -> None:
    (pattern,) = {schema["pattern"] for _, _, schema in _with_header(document, "If-Match")}
    assert (re.fullmatch(pattern, value) is not None) is valid
    if valid:
        if_match(value)
    else:
        with pytest.raises(ProblemError):
            if_match(value)


KEYS = {"booking-1": True, "a:b_c.d-e": True, "...x": True, "x" * 128: True, "...": False,
        "a b": False, "x" * 129: False, "": False, "ké": False}  # fmt: skip


@pytest.mark.parametrize(("value", "valid"), KEYS.items())
def test_idempotency_key_schema_is_the_servers_rule(
    document: dict[str, Any], value: str, valid: bool
) -> None:
    rules = [
        {k: v for k, v in schema.items() if k != "examples"}
        for _, _, schema in _with_header(document, "Idempotency-Key")
    ]
    schema = rules[0]
    assert all(rule == schema for rule in rules)
    fits = schema["minLength"] <= len(value) <= schema["maxLength"]
    assert (fits and re.fullmatch(schema["pattern"], value) is not None) is valid
    if valid:
        assert idempotency_key(value) == value
    else:
        with pytest.raises(InvalidIdempotencyKey):
            idempotency_key(value)


def test_an_edit_names_at_least_one_field(document: dict[str, Any]) -> None:
    assert document["components"]["schemas"]["EditAppointment"]["minProperties"] == 1


def _duration(document: dict[str, Any], name: str) -> dict[str, Any]:
    duration: dict[str, Any] = document["components"]["schemas"][name]["properties"][
        "duration_minutes"
    ]
    (number,) = [s for s in duration.get("anyOf", [duration]) if s.get("type") == "integer"]
    found: dict[str, Any] = number
    return found


@pytest.mark.parametrize("name", ["BookAppointment", "RescheduleAppointment"])
def test_a_length_is_documented_with_the_configured_bounds(name: str) -> None:
    settings = load_settings(min_duration_minutes=15, max_duration_minutes=60)
    document = create_app(settings).openapi()
    number = _duration(document, name)
    assert (number["minimum"], number["maximum"], number["multipleOf"]) == (15, 60, 5)
    assert _duration(create_app(load_settings()).openapi(), name)["maximum"] == 120


START = {"2030-01-07T09:00:00+01:00": True, "2030-01-07T09:05:00.000Z": True,
         "2030-01-07t09:55:00z": True, "2030-01-07T09:01:00+01:00": False,
         "2030-01-07T09:00:30Z": False, "2030-01-07T09:00:00.5Z": False,
         "2030-01-07T09:00:00+05:03": False}  # fmt: skip


@pytest.mark.parametrize(("start", "on_the_grid"), START.items())
def test_a_start_is_documented_on_the_five_minute_grid(
    document: dict[str, Any], start: str, on_the_grid: bool
) -> None:
    for name in ("BookAppointment", "RescheduleAppointment"):
        pattern = document["components"]["schemas"][name]["properties"]["start"]["pattern"]
        assert (re.fullmatch(pattern, start) is not None) is on_the_grid
    instant = datetime.fromisoformat(start.upper().replace("Z", "+00:00"))
    now = instant - timedelta(days=1)
    if on_the_grid:
        validate_requested_time(instant, 15, now.astimezone(UTC), BookingLimits())
    elif not start.endswith("+05:03"):  # an offset no zone has: the schema is the stricter
        with pytest.raises(InvalidAppointment):
            validate_requested_time(instant, 15, now.astimezone(UTC), BookingLimits())


CHANGES_ON_AN_ID = {
    ("get", ONE), ("patch", ONE), ("delete", ONE), ("get", f"{ONE}/history"),
    *{("post", f"{ONE}/{action}") for action in
      ("confirm", "check-in", "complete", "no-show", "cancel", "reschedule",
       "no-show/reversal")},
}  # fmt: skip


def _targets(document: dict[str, Any], links: dict[str, Any]) -> set[tuple[str, str]]:
    targets = set()
    for link in links.values():
        pointer = link["operationRef"].removeprefix("#/paths/")
        path, method = pointer.rsplit("/", 1)
        path = path.replace("~1", "/").replace("~0", "~")
        assert method in document["paths"][path], link
        targets.add((method, path))
    return targets


@pytest.mark.parametrize(("status", "field"), [("201", "id"), ("202", "appointment_id")])
def test_a_booking_links_to_every_operation_on_its_id(
    document: dict[str, Any], status: str, field: str
) -> None:
    links = document["paths"][BOOKINGS]["post"]["responses"][status]["links"]
    assert _targets(document, links) == CHANGES_ON_AN_ID
    assert {str(link["parameters"]["appointment_id"]) for link in links.values()} == {
        f"$response.body#/{field}"
    }


def test_a_change_links_on_but_an_entered_in_error_appointment_links_nowhere(
    document: dict[str, Any],
) -> None:
    confirmed = document["paths"][f"{ONE}/confirm"]["post"]["responses"]["200"]
    assert _targets(document, confirmed["links"]) == CHANGES_ON_AN_ID
    assert "links" not in document["paths"][ONE]["delete"]["responses"]["200"]


async def test_options_and_405_say_which_methods_a_path_allows(
    app: FastAPI, document: dict[str, Any]
) -> None:
    async with client_of(app) as client:
        for path, item in document["paths"].items():
            concrete = path.replace("{appointment_id}", str(uuid.uuid4()))
            concrete = concrete.replace("{doctor_id}", "doc-on-call")
            documented = {method.upper() for method in item}
            options = await client.options(concrete)
            assert options.status_code == 204, (path, options.text)
            assert set(options.headers["allow"].split(", ")) == documented | {"OPTIONS"}
            other = "PUT" if "PUT" not in documented else "TRACE"
            refused = await client.request(other, concrete)
            assert refused.status_code == 405, path
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/method-not-allowed")
            assert refused.headers["allow"] == options.headers["allow"]
