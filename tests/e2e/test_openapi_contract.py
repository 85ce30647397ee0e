"""The API keeps the promises of its own OpenAPI document. Schemathesis generates requests
for every operation of ``/openapi.json`` (the spec's examples, boundary and negative
coverage cases, then random valid and invalid ones), sends them to the real local stack
with an admin token and checks every answer: never a 5xx, a documented status code and
content type, a body matching the documented schema, and every problem document a valid
RFC 9457 Problem whose ``status`` is the HTTP status.

The schema is loaded lazily from the session ``service``: its port is known only at run
time. Bookings are real sagas, so the booking operation gets fewer examples; a share of
the valid ones is steered onto a free (or a just-taken) slot of the on-call doctor, so
that 201, 202 and 409 are checked too, and every appointment the API creates is read back
through ``Location`` and checked against the read operation's schema."""

from __future__ import annotations

import json
import uuid
import zlib
from datetime import datetime
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from requests.structures import CaseInsensitiveDict
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import TestPhase
from schemathesis.schemas import BaseSchema

from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import DOCTOR, book, booked, changed
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
BOOKINGS = "/api/v1/appointments"
APPOINTMENT = "/api/v1/appointments/{appointment_id}"
PATIENTS = ("pat-anna-schmidt", "pat-ben-okafor", "pat-chiara-rossi", "pat-david-kim")


@pytest.fixture(autouse=True)
def _schemathesis_on_pytest_9(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's ``from_fixture`` renames the test node through ``Node._nodeid``,
    which pytest 9.2 no longer has (it keeps ``Node._id``): give it one to read, or every
    test made by ``parametrize()`` fails with an AttributeError before sending anything."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="session")
def openapi_schema(service: LocalService) -> BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "all"},  # valid and invalid input alike
            # No stateful phase: the spec documents no links, and sagas are slow.
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{service.api_url}/openapi.json", config=config)


@pytest.fixture(scope="session")
def admin(service: LocalService) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.token('admin', 'contract-test')}"}


_PROBLEM_VALIDATORS: dict[int, Any] = {}


def _problem_validator(document: dict[str, Any]) -> Any:
    key = id(document)
    if key not in _PROBLEM_VALIDATORS:
        schema = {"$ref": "#/components/schemas/Problem", "components": document["components"]}
        _PROBLEM_VALIDATORS[key] = jsonschema_rs.Draft202012Validator(schema)
    return _PROBLEM_VALIDATORS[key]


def problem_document_conformance(ctx: CheckContext, response: Response, case: Case[Any]) -> bool:
    """Every ``application/problem+json`` answer is the spec's Problem, its ``status`` the
    HTTP status. (``response_schema_conformance`` checks the body against the schema the
    spec documents for the status; this holds even where it documents none.)"""
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith(PROBLEM_JSON):
        return True
    body = response.json()
    validator = _problem_validator(case.operation.schema.raw_schema)
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
    if errors:
        raise AssertionError("not a Problem document: " + "; ".join(errors))
    if body["status"] != response.status_code:
        raise AssertionError(f"Problem status {body['status']} != HTTP {response.status_code}")
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,  # the headers the spec marks required are sent
    problem_document_conformance,
]

HYPOTHESIS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "database": None,  # every run explores afresh; nothing written to .hypothesis/
}

schema = schemathesis.pytest.from_fixture("openapi_schema")


@schema.exclude(method="POST", path=BOOKINGS).parametrize()
@settings(max_examples=50, **HYPOTHESIS)
def test_every_read_and_probe_keeps_the_contract(case: Case[Any], admin: dict[str, str]) -> None:
    case.call_and_validate(headers=admin, checks=CHECKS, timeout=30)


class _LastBooked:
    start: str | None = None


STEERS = ("as generated", "as generated", "free slot", "free slot, async", "taken slot")


def _steer(case: Case[Any]) -> str:
    """Invalid bookings and those of the spec's examples and of the coverage phase stay as
    generated; of the valid random ones, about 3 in 5 go to a free slot (answered at once
    or, with ``Prefer: respond-async``, as 202) or to the slot booked just before. The
    choice is a function of the generated body, so a replayed example makes the same."""
    meta = case.meta
    if meta is None or meta.phase.name != TestPhase.FUZZING:
        return "as generated"
    if not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return "as generated"
    digest = zlib.crc32(json.dumps(case.body, sort_keys=True, default=str).encode())
    return STEERS[digest % len(STEERS)]


@schema.include(method="POST", path=BOOKINGS).parametrize()
@settings(max_examples=40, **HYPOTHESIS)
def test_booking_keeps_the_contract(case: Case[Any], admin: dict[str, str], slots: Slots) -> None:
    steer = _steer(case)
    if steer != "as generated":
        # The saga needs a known patient and a slot the doctor offers, which fuzzing never
        # finds; the rest of the body (the reason) and the other headers stay as generated.
        assert isinstance(case.body, dict)
        taken = _LastBooked.start if steer == "taken slot" else None
        start = taken or slots.next()
        patient = PATIENTS[len(start) % len(PATIENTS)]
        case.body.update(patient_id=patient, doctor_id=DOCTOR, start=start, duration_minutes=15)
        headers = CaseInsensitiveDict(case.headers or {})
        headers["Idempotency-Key"] = str(uuid.uuid4())
        if steer == "free slot, async":
            headers["Prefer"] = "respond-async"
        case.headers = headers
        _LastBooked.start = start
    answer = case.call_and_validate(headers=admin, checks=CHECKS, timeout=60)
    if answer.status_code in (201, 202):
        # What the API created (or is creating) reads back as the read operation says.
        location = answer.headers["location"][0]
        assert location.startswith(BOOKINGS + "/"), location
        appointment_id = location.removeprefix(BOOKINGS + "/")
        read = case.operation.schema[APPOINTMENT]["GET"]
        back = read.Case(path_parameters={"appointment_id": appointment_id})

        # After a 202 the saga runs on: read until it is decided (each answer checked), so
        # that no booking of this test is still writing when the next test starts.
        def decided() -> bool:
            reading = back.call_and_validate(headers=admin, checks=CHECKS, timeout=30)
            assert reading.status_code == 200, reading.text
            return bool(reading.json()["status"] != "PENDING")

        eventually(decided, 30, f"the booking {appointment_id} is decided")


def test_without_a_valid_token_every_api_operation_is_a_401_problem(service: LocalService) -> None:
    document = httpx.get(f"{service.api_url}/openapi.json").json()
    operations = [
        (method.upper(), path.replace("{appointment_id}", str(uuid.uuid4())))
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method in item
    ]
    assert operations
    for credentials in (None, "Bearer not-a-jwt"):
        headers = {"Authorization": credentials} if credentials else {}
        for method, path in operations:
            answer = httpx.request(
                method, service.api_url + path, json={}, headers=headers, timeout=30
            )
            assert answer.status_code == 401, (method, path, credentials, answer.text)
            assert answer.headers["content-type"] == PROBLEM_JSON
            assert answer.headers["www-authenticate"].startswith("Bearer")
            problem = answer.json()
            assert problem["type"].endswith("/unauthorized")
            assert problem["status"] == 401


def _with_a_body(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (path, method.upper())
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]


def test_an_oversized_body_is_a_documented_413_on_every_operation_that_takes_one(
    openapi_schema: BaseSchema, admin: dict[str, str]
) -> None:
    operations = _with_a_body(openapi_schema.raw_schema)
    assert len(operations) >= 8, operations
    for path, method in operations:
        case = openapi_schema[path][method].Case(
            path_parameters={"appointment_id": str(uuid.uuid4())} if "{" in path else None,
            body={"reason": "x" * 70_000},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        answer = case.call(headers=admin, timeout=30)
        assert answer.status_code == 413, (method, path, answer.text)
        problem = answer.json()
        assert problem["instance"] == case.formatted_path
        assert [problem["request_id"]] == answer.headers["x-request-id"]
        case.validate_response(answer, checks=CHECKS, headers=admin)


def _example(document: dict[str, Any], name: str) -> dict[str, Any]:
    example: dict[str, Any] = document["components"]["schemas"][name]["examples"][0]
    return example


def test_the_spec_examples_book_and_reschedule(
    service: LocalService, api: httpx.Client, slots: Slots
) -> None:
    """Swagger's "Try it out" sends the examples as they are: they must work. The booking
    example may have been booked already (the examples phase above sends it): then its
    slot is taken by that very booking."""
    document = httpx.get(f"{service.api_url}/openapi.json").json()
    example = _example(document, "BookAppointment")
    answer = book(api, example)
    if answer.status_code == 409:
        assert answer.json()["type"].endswith("/slot-unavailable"), answer.text
        listed = api.get(
            BOOKINGS, params={"patient_id": example["patient_id"], "from": example["start"]}
        ).json()["items"]
        assert any(
            datetime.fromisoformat(a["start"]) == datetime.fromisoformat(example["start"])
            for a in listed
        ), listed
    else:
        assert answer.status_code == 201, answer.text
    appointment = booked(api, slots.next(), PATIENTS[2])
    changed(api, appointment["id"], "reschedule", **_example(document, "RescheduleAppointment"))
