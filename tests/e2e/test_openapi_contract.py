"""The API keeps the promises of its own OpenAPI document. Schemathesis generates requests
for every operation of ``/openapi.json`` (the spec's examples, boundary and negative
coverage cases, then random valid and invalid ones), sends them to the real local stack
with an admin token and runs every check it has (``schemathesis.checks``: no 5xx, a
documented status, content type, body and headers, schema-valid data accepted and
schema-violating data refused, no use after free, what was created can be read, the
token is not ignored, ...) and ours: every problem document a valid RFC 9457 Problem
whose ``status`` is the HTTP status, and schema-valid data refused only for the state of
things, never for a rule the schema does not state (``STATE_REFUSALS``). Then the
stateful phase follows the spec's links from a booking to every operation on its id.

The schema is loaded lazily from the session ``service``: its port is known only at run
time. Bookings are real sagas, so the booking operation gets fewer examples; a share of
the valid ones is steered onto a free (or a just-taken) slot of the on-call doctor, so
that 201, 202 and 409 are checked too, and every appointment the API creates is read back
through ``Location`` and checked against the read operation's schema. Hypothesis runs
derandomized and Schemathesis with a fixed seed: a run sends what the last one sent."""

from __future__ import annotations

import contextlib
import json
import uuid
import zlib
from datetime import datetime
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test
from requests.structures import CaseInsensitiveDict
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import CHECKS as SCHEMATHESIS_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import TestPhase
from schemathesis.schemas import BaseSchema

from application.commands import NOT_A_CURSOR
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


SEED = 14

# What schema-valid data may still be answered besides Schemathesis' defaults (2xx, 3xx,
# 401, 403, 404, 409, 429, 5xx): 402 when Billing refuses the invoice, and the 422s of
# ``STATE_REFUSALS``, which ``refused_only_for_the_state_of_things`` checks one by one.
POSITIVE_STATUSES = ["2xx", "3xx", "401", "402", "403", "404", "409", "422", "429", "5xx"]


@pytest.fixture(scope="session")
def openapi_schema(service: LocalService) -> BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "deterministic": True},  # valid and invalid input
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
            # DELETE marks an appointment entered-in-error and keeps it readable (FHIR),
            # which the stateful use-after-free check takes for a use after free: the
            # walks leave it out (the parametrized tests send it).
            "operations": [
                {"include-method": "DELETE", "phases": {"stateful": {"enabled": False}}}
            ],
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


# Why a request the schema allows may still be refused with 422: the state of things,
# which no schema can say. The problem's type names the reason.
STATE_REFUSALS = {
    "idempotency-key-reused": "the key came before with another request (IETF's draft: 422)",
    "patient-not-found": "the Patient Service does not know the patient",
    "doctor-not-found": "the Doctor Service does not know the doctor",
    "slot-not-offered": "the doctor's calendar has no slot at that time",
    "invalid-schedule-window": "from not before to, or wider than the configured maximum: "
    "a rule across two parameters, said in the operation's description",
    "invalid-waitlist-entry": "a waitlist window whose earliest start is after its latest, "
    "whose latest start has passed, or which starts beyond the booking horizon: rules across "
    "two fields and the clock, said in the body's description",
}
# The rules of a requested time that depend on the clock, not on the request.
CLOCK_RULES = ("start must be in the future", "start must be within ")


def _beyond_a_schema(error: dict[str, str], body: Any) -> bool:
    """A field error no schema could have prevented: a rule across the query's parameters
    (``from`` before ``to``: reported for the whole query), a page cursor the API did
    not issue (opaque: no schema tells an issued one from another), or an integer sent
    with a fraction of zero (``80.0``)."""
    cursor = error["field"] == "query.cursor" and error["message"] == NOT_A_CURSOR
    return error["field"] == "query" or cursor or _an_integral_float(error, body)


def _an_integral_float(error: dict[str, str], body: Any) -> bool:
    """``80.0`` refused where the schema says ``integer``. JSON Schema's ``integer`` is any
    number without a fraction, so it takes ``80.0``; the API asks for a JSON integer as
    written (strict, like every number it takes), which no schema keyword can say."""
    field = error["field"].split(".")
    if error["message"] != "Input should be a valid integer" or field[0] != "body":
        return False
    value = body
    for part in field[1:]:
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return isinstance(value, float) and value.is_integer()


def refused_only_for_the_state_of_things(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Schema-valid data is never refused for a rule the schema does not state: not with
    a 400, and with a 422 only for a reason of ``STATE_REFUSALS``, a clock rule, or what
    no schema can say (``_beyond_a_schema``)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code == 400:
        raise AssertionError(f"schema-valid data refused: {response.text}")
    if response.status_code != 422:
        return None
    problem = response.json()
    code = problem["type"].rsplit("/", 1)[-1]
    if code in STATE_REFUSALS:
        return None
    if code == "invalid-appointment" and problem.get("detail", "").startswith(CLOCK_RULES):
        return None
    fields = problem.get("errors") or []
    beyond = all(_beyond_a_schema(error, case.body) for error in fields)
    if code == "validation-error" and fields and beyond:
        return None
    raise AssertionError(
        f"schema-valid data refused for a rule the schema does not state: {problem}"
    )


def every_check() -> list[Any]:
    """Every check Schemathesis has (the CLI's ``--checks all``), and ours."""
    load_all_checks()
    ours = [problem_document_conformance, refused_only_for_the_state_of_things]
    return [*SCHEMATHESIS_CHECKS.get_all(), *ours]


CHECKS = every_check()

HYPOTHESIS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "database": None,  # nothing read from or written to .hypothesis/
    "derandomize": True,  # the same examples on every run: a failure is no fluke
}

schema = schemathesis.pytest.from_fixture("openapi_schema")


@schema.exclude(method="POST", path=BOOKINGS).parametrize()
@settings(max_examples=25, **HYPOTHESIS)
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
            if answer.status_code == 202 and reading.status_code == 404:
                return True  # the saga refused it (say, the slot was taken): never stored
            assert reading.status_code == 200, reading.text
            return bool(reading.json()["status"] != "PENDING")

        eventually(decided, 30, f"the booking {appointment_id} is decided")


RESCHEDULE = APPOINTMENT + "/reschedule"


def _steer_the_walk(case: Case[Any], slots: Slots) -> None:
    """The stateful phase follows the links of a booking only when one succeeds, which
    fuzzing never makes: a valid booking goes to a free slot of the on-call doctor for a
    known patient, and waits for its outcome (no ``Prefer``), so that the appointment the
    links lead to exists; a valid reschedule goes to another free slot. Each with a fresh
    Idempotency-Key. The rest of each request stays as generated."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    operation = (case.method.upper(), case.operation.path)
    if operation not in (("POST", BOOKINGS), ("POST", RESCHEDULE)):
        return
    start = slots.next()
    if operation == ("POST", BOOKINGS):
        patient = PATIENTS[len(case.body) % len(PATIENTS)]
        case.body.update(patient_id=patient, doctor_id=DOCTOR, start=start, duration_minutes=15)
    else:
        case.body.update(start=start, duration_minutes=15)
    headers = CaseInsensitiveDict(case.headers or {})
    headers["Idempotency-Key"] = str(uuid.uuid4())
    headers.pop("Prefer", None)
    case.headers = headers


# How many walks the stateful test may take to follow a booking's links (see below).
WALKS = 3


def test_the_stateful_phase_follows_the_links_and_keeps_the_contract(
    openapi_schema: BaseSchema, admin: dict[str, str], slots: Slots
) -> None:
    """Schemathesis' stateful phase: sequences of calls along the spec's links (a booking's
    201 or 202 leads to every operation on its id) and those it infers, every answer
    checked with every check, including the ones that need a history (use after free,
    what was created is available)."""
    # The appointments' operations only: the walk is for a booking's links, and every
    # other operation (the waitlist's, the schedule's) would thin out the steps that
    # follow them (each is checked on its own by the tests above).
    walk = openapi_schema.include(path_regex=f"^{BOOKINGS}").as_state_machine()
    booked = openapi_schema.raw_schema["paths"][BOOKINGS]["post"]["responses"]["201"]
    assert {"no_show", "reschedule", "cancel", "edit"} <= set(booked["links"]), booked

    booked_ids: set[str] = set()
    reached: set[str] = set()  # the operations called with the id of a booking

    class Walk(walk):  # type: ignore[misc, valid-type]
        def before_call(self, case: Case[Any]) -> None:
            _steer_the_walk(case, slots)

        def after_call(self, response: Response, case: Case[Any]) -> None:
            super().after_call(response, case)
            if (case.method.upper(), case.operation.path) == ("POST", BOOKINGS):
                if response.status_code == 201:
                    booked_ids.add(response.json()["id"])
                elif response.status_code == 202:  # the saga runs on: the same id, once done
                    booked_ids.add(response.json()["appointment_id"])
            elif (case.path_parameters or {}).get("appointment_id") in booked_ids:
                reached.add(f"{case.method.upper()} {case.operation.path}")

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"headers": admin, "timeout": 60}

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(
                    response,
                    checks=CHECKS,
                    headers=admin,
                    transport_kwargs=kwargs,
                    recorder=self.recorder,
                )
            except Exception as failure:
                failures.append(failure)
                raise

    failures: list[Exception] = []
    changes = (
        "confirm",
        "check-in",
        "complete",
        "no-show",
        "no-show/reversal",
        "cancel",
        "reschedule",
    )
    followed = {f"POST {APPOINTMENT}/{change}" for change in changes}
    # A link draws true randomness (Schemathesis' transitions), and a live stack need not
    # answer twice alike (a saga's 201 may be a 202 under load), so Hypothesis may find a
    # walk's draws inconsistent (Flaky) and end it early. Schemathesis' own runner counts
    # that as no failure; so does this test, as long as no check failed, and it walks
    # again (up to WALKS times) until the links have led somewhere.
    for _ in range(WALKS):
        with contextlib.suppress(Flaky):
            # Generation only, as Schemathesis' own runner does: a walk is not replayed.
            run_state_machine_as_test(
                Walk,
                settings=settings(
                    max_examples=40, stateful_step_count=8, phases=[Phase.generate], **HYPOTHESIS
                ),
            )
        if failures or len(followed & reached) >= 3:
            break
    assert failures == []
    # The links led to the appointments bookings made: the operations on an id that
    # fuzzing, with made-up ids, only ever finds missing.
    assert len(followed & reached) >= 3, (reached, booked_ids)


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
