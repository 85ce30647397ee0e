"""Who may do what, on the running app: one refusal of each kind through the real
middleware and both doors (the whole matrix, every use case and role, is
tests/unit/application/test_permissions_*.py; a 401 for every operation is
test_openapi_contract's), the probes without a token, and the request log line of the
API's process.

A role that may never do something is a 403 and starts nothing; someone else's
appointment reads exactly like one that does not exist (404)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import (
    BASE,
    book,
    booked,
    booking,
    counts,
    ended,
    graphql,
    log_lines,
    problem_type,
    workflow_id,
)

pytestmark = pytest.mark.e2e

OWNER, STRANGER = "pat-chiara-rossi", "pat-david-kim"
ONE = "query ($id: ID!) { appointment(id: $id) { id } }"
Clients = Callable[[str, str], httpx.Client]


@pytest.fixture(scope="module")
def appointment(api: httpx.Client, slots: Slots) -> dict[str, Any]:
    return booked(api, slots.next(), OWNER)


def test_a_doctor_booking_is_a_403_and_starts_nothing(
    as_role: Clients, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    before = counts(mongo)

    answer = book(as_role("doctor", "doc-on-call"), booking(slots.next(), OWNER))

    assert (answer.status_code, problem_type(answer)) == (403, "forbidden")
    assert counts(mongo) == before


def test_someone_elses_appointment_reads_like_a_missing_one_at_both_doors(
    as_role: Clients, appointment: dict[str, Any]
) -> None:
    stranger = as_role("patient", STRANGER)
    theirs, missing = appointment["id"], str(uuid.uuid4())

    rest = [stranger.get(f"{BASE}/{i}") for i in (theirs, missing)]
    door = [graphql(stranger, ONE, id=i) for i in (theirs, missing)]

    assert [problem_type(a) for a in rest] == ["appointment-not-found"] * 2
    assert rest[0].json()["title"] == rest[1].json()["title"]
    errors = [a.json()["errors"][0] for a in door]
    assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"] * 2
    assert errors[0]["message"] == errors[1]["message"]
    assert OWNER not in rest[0].text + door[0].text


def test_probes_and_docs_need_no_token_and_readiness_checks_the_real_servers(
    anonymous: httpx.Client,
) -> None:
    for path in ("/health/live", "/docs", "/openapi.json"):
        assert anonymous.get(path).status_code == 200, path
    assert anonymous.get("/health/live").json() == {"status": "ok"}
    ready = anonymous.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"mongodb": "ok", "temporal": "ok"}


def test_two_patients_sending_one_idempotency_key_each_get_their_own_booking(
    as_role: Clients, api: httpx.Client, service: LocalService, slots: Slots
) -> None:
    # Keys are their caller's own: a run each, so a hold and an invoice each at the peers;
    # the runs are the front desk's to see, not the patients'.
    key = f"my-first-visit-{uuid.uuid4().hex[:8]}"
    bodies = {patient: booking(slots.next(), patient) for patient in (OWNER, STRANGER)}

    answers = {p: book(as_role("patient", p), body, key) for p, body in bodies.items()}

    assert {p: a.status_code for p, a in answers.items()} == {OWNER: 201, STRANGER: 201}, [
        a.text for a in answers.values()
    ]
    mine, theirs = answers[OWNER].json(), answers[STRANGER].json()
    assert (mine["patient_id"], theirs["patient_id"]) == (OWNER, STRANGER)
    for field in ("id", "hold_id", "invoice_id"):
        assert mine[field] != theirs[field], field
    assert (mine["booking_workflow_id"], theirs["booking_workflow_id"]) == (None, None)
    runs = [api.get(f"{BASE}/{a['id']}").json()["booking_workflow_id"] for a in (mine, theirs)]
    assert runs == [workflow_id(key, f"patient:{OWNER}"), workflow_id(key, f"patient:{STRANGER}")]
    assert [ended(service, run).status.name for run in runs] == ["COMPLETED"] * 2
    # Each patient's retry of the key is answered with their own booking.
    again = book(as_role("patient", OWNER), bodies[OWNER], key)
    assert (again.status_code, again.json()["id"]) == (201, mine["id"])


def test_the_request_log_names_the_caller_but_never_the_token(
    service: LocalService, as_role: Clients, appointment: dict[str, Any]
) -> None:
    owner = as_role("patient", OWNER)
    client_id = uuid.uuid4().hex
    answer = owner.get(f"{BASE}/{appointment['id']}", headers={"X-Request-ID": client_id})
    # The server's own id correlates; the caller's is echoed and logged beside it.
    request_id = answer.headers["X-Request-ID"]
    assert request_id != client_id == answer.headers["X-Client-Request-ID"]
    token = owner.headers["Authorization"].removeprefix("Bearer ")

    lines = log_lines(service, "api", request_id)

    assert len(lines) == 1, "one line per request"
    line = lines[0]
    assert (line["subject"], line["role"], line["status"]) == (OWNER, "patient", 200)
    assert (line["method"], line["route"]) == ("GET", "/api/v1/appointments/{appointment_id}")
    assert isinstance(line["duration_ms"], float)
    assert token not in (service.infra.log_dir / "api.log").read_text()
