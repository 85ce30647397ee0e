"""REST and GraphQL are two doors to one application layer: the same bad value is refused
by both alike (REST's problem ``status`` and ``type`` are GraphQL's ``extensions.status``
and ``extensions.type``) before anything starts: no saga, no write, no peer asked. And a
booking made through one door reads back through the other. In-process over HTTP, on the
fakes of tests/fakes.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.problems import PROBLEM_BASE
from application.permissions import Role
from config import Settings
from domain.model import Appointment
from tests.fakes import World
from tests.unit.api.conftest import bearer, nothing_started
from workflows.contracts import booking

START = "2030-01-07T09:00:00+01:00"  # Monday 09:00 in Berlin
NEW_START = "2030-01-07T10:00:00+01:00"
BODY: dict[str, Any] = {"patient_id": "pat-anna-schmidt", "doctor_id": "doc-on-call"}
BODY |= {"start": START, "duration_minutes": 15}
INPUT: dict[str, Any] = {"patientId": "pat-anna-schmidt", "doctorId": "doc-on-call"}
INPUT |= {"start": START, "durationMinutes": 15}
DAY = {"from": "2030-01-07T00:00:00Z", "to": "2030-01-08T00:00:00Z"}

BOOK = """mutation ($input: BookAppointmentInput!, $key: String!) {
  bookAppointment(input: $input, idempotencyKey: $key) {
    appointmentId pending appointment { id status version start patientId invoiceId }
  }
}"""
CANCEL = """mutation ($id: ID!, $key: String!) {
  cancelAppointment(id: $id, idempotencyKey: $key) { appointmentId pending }
}"""
RESCHEDULE = """mutation ($id: ID!, $input: RescheduleAppointmentInput!, $key: String!) {
  rescheduleAppointment(id: $id, input: $input, idempotencyKey: $key) { appointmentId }
}"""
READ = """query ($id: ID!) {
  appointment(id: $id) { id patientId doctorId start end status day }
}"""
FREE_SLOTS = """query ($doctor: ID!, $day: Date!) {
  freeSlots(doctorId: $doctor, day: $day) { start }
}"""
SCHEDULE = """query ($doctor: ID!, $from: DateTime!, $to: DateTime!) {
  doctorSchedule(doctorId: $doctor, from: $from, to: $to) { id }
}"""


async def graphql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    answer = await client.post("/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- the same bad value through both doors ----------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request through REST and through GraphQL; "{id}" is the planted appointment."""

    name: str
    status: int  # what both must answer
    method: str
    path: str
    query: str
    variables: dict[str, Any]
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.name


def filled(value: Any, appointment_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("{id}", appointment_id)
    if isinstance(value, dict):
        return {k: filled(v, appointment_id) for k, v in value.items()}
    return value


CHANGE = "/api/v1/appointments/{id}"
BAD_KEYS = {"newline": "x1\n", "empty": "", "space": "a b", "129 characters": "k" * 129}
BAD_DOCTORS = {"dot-dot": "..", "slash": "doc/1", "newline": "doc-on-call\n"}
NAIVE = "2030-01-07T09:00:00"

CASES = [
    *(
        case
        for label, key in BAD_KEYS.items()
        for case in (
            Case(
                f"booking key: {label}", 400, "POST", "/api/v1/appointments", BOOK,
                {"input": INPUT, "key": key}, BODY, {"Idempotency-Key": key},
            ),
            Case(
                f"cancellation key: {label}", 400, "POST", f"{CHANGE}/cancel", CANCEL,
                {"id": "{id}", "key": key}, {}, {"Idempotency-Key": key},
            ),
            Case(
                f"reschedule key: {label}", 400, "POST", f"{CHANGE}/reschedule", RESCHEDULE,
                {"id": "{id}", "input": {"start": NEW_START}, "key": key},
                {"start": NEW_START}, {"Idempotency-Key": key},
            ),
        )
    ),
    *(
        Case(
            f"booked doctor: {label}", 422, "POST", "/api/v1/appointments", BOOK,
            {"input": INPUT | {"doctorId": doctor}, "key": "k-1"}, BODY | {"doctor_id": doctor},
        )
        for label, doctor in BAD_DOCTORS.items()
    ),
    *(
        case
        # In a path, "doc/1" is another route (404 at REST); the others reach the check.
        for label, doctor in BAD_DOCTORS.items() if label != "slash"
        for case in (
            Case(
                f"free slots' doctor: {label}", 422, "GET",
                f"/api/v1/doctors/{quote(doctor, safe='').replace('.', '%2E')}/free-slots",
                FREE_SLOTS, {"doctor": doctor, "day": "2030-01-07"}, params={"day": "2030-01-07"},
            ),
            Case(
                f"schedule's doctor: {label}", 422, "GET",
                f"/api/v1/doctors/{quote(doctor, safe='').replace('.', '%2E')}/schedule",
                SCHEDULE, {"doctor": doctor} | DAY, params=DAY,
            ),
        )
    ),
    Case("read id", 422, "GET", "/api/v1/appointments/not-a-uuid", READ, {"id": "not-a-uuid"}),
    Case(
        "cancel id", 422, "POST", "/api/v1/appointments/not-a-uuid/cancel", CANCEL,
        {"id": "not-a-uuid", "key": "k-2"}, {}, {"Idempotency-Key": "k-2"},
    ),
    Case(
        "reschedule id", 422, "POST", "/api/v1/appointments/not-a-uuid/reschedule", RESCHEDULE,
        {"id": "not-a-uuid", "input": {"start": NEW_START}, "key": "k-3"},
        {"start": NEW_START}, {"Idempotency-Key": "k-3"},
    ),
    *(
        Case(
            f"booking start: {label}", 422, "POST", "/api/v1/appointments", BOOK,
            {"input": INPUT | {"start": start}, "key": "k-4"}, BODY | {"start": start},
        )
        for label, start in {"no offset": NAIVE, "a date": "2030-01-07"}.items()
    ),
    Case(
        "new start: no offset", 422, "POST", f"{CHANGE}/reschedule", RESCHEDULE,
        {"id": "{id}", "input": {"start": NAIVE}, "key": "k-5"},
        {"start": NAIVE}, {"Idempotency-Key": "k-5"},
    ),
    Case(
        "schedule from: no offset", 422, "GET", "/api/v1/doctors/doc-on-call/schedule",
        SCHEDULE, {"doctor": "doc-on-call"} | DAY | {"from": NAIVE},
        params=DAY | {"from": NAIVE},
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_both_doors_refuse_a_bad_value_alike_and_start_nothing(
    client: httpx.AsyncClient, world: World, planted: Appointment, case: Case
) -> None:
    rest = await client.request(
        case.method,
        filled(case.path, planted.id),
        json=case.body,
        headers=case.headers,
        params=case.params,
    )
    answer = await graphql(client, case.query, filled(case.variables, planted.id))

    problem = rest.json()
    assert rest.headers["content-type"] == "application/problem+json"
    assert rest.status_code == problem["status"] == case.status, problem
    [error] = answer["errors"]
    extensions = error["extensions"]
    assert (extensions["status"], extensions["type"]) == (problem["status"], problem["type"])
    assert not any((answer.get("data") or {}).values())
    nothing_started(world, planted)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "foreign"],
)
async def test_both_doors_refuse_a_request_without_a_valid_token_alike(
    client: httpx.AsyncClient, world: World, settings: Settings, authorization: str | None
) -> None:
    if authorization == "foreign":  # well signed, by another issuer
        authorization = bearer(settings.model_copy(update={"jwt_issuer": "someone-else"}))
    headers = {"Authorization": authorization} if authorization else {}
    client.headers.pop("Authorization")

    rest = await client.post("/api/v1/appointments", json=BODY, headers=headers)
    door = await client.post(
        "/graphql", json={"query": READ, "variables": {"id": "x"}}, headers=headers
    )

    for answer in (rest, door):
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.json()["type"].endswith("/unauthorized")
    assert rest.headers["WWW-Authenticate"] == door.headers["WWW-Authenticate"]
    nothing_started(world)


# --- one booking, both doors --------------------------------------------------------------


async def test_booked_through_rest_and_read_through_graphql(
    client: httpx.AsyncClient, world: World
) -> None:
    booked = await client.post("/api/v1/appointments", json=BODY, headers={"Idempotency-Key": "b1"})
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    assert booked.headers["Location"] == f"/api/v1/appointments/{appointment_id}"
    assert booked.headers["Idempotency-Key"] == "b1"
    world.view.add(world.repository.appointments[appointment_id])  # the projector caught up

    answer = await graphql(client, READ, {"id": appointment_id})

    assert "errors" not in answer
    assert answer["data"]["appointment"] == {
        "id": appointment_id,
        "patientId": "pat-anna-schmidt",
        "doctorId": "doc-on-call",
        "start": "2030-01-07T08:00:00+00:00",
        "end": "2030-01-07T08:15:00+00:00",
        "status": "SCHEDULED",
        "day": "2030-01-07",
    }


async def test_booked_through_graphql_and_read_through_rest(
    client: httpx.AsyncClient, world: World
) -> None:
    answer = await graphql(client, BOOK, {"input": INPUT, "key": "b2"})
    outcome = answer["data"]["bookAppointment"]
    assert outcome["pending"] is False

    read = await client.get(f"/api/v1/appointments/{outcome['appointmentId']}")

    assert read.status_code == 200, read.text
    stored = read.json()
    assert read.headers["ETag"] == f'"{stored["version"]}"'
    shown = outcome["appointment"]
    assert (shown["id"], shown["status"], shown["version"], shown["invoiceId"]) == (
        stored["id"],
        stored["status"],
        stored["version"],
        stored["invoice_id"],
    )
    assert datetime.fromisoformat(shown["start"]) == datetime.fromisoformat(stored["start"])


async def test_one_key_through_both_doors_is_one_booking(
    client: httpx.AsyncClient, world: World
) -> None:
    rest = await client.post("/api/v1/appointments", json=BODY, headers={"Idempotency-Key": "b3"})
    commits = world.repository.commits

    answer = await graphql(client, BOOK, {"input": INPUT, "key": "b3"})

    assert answer["data"]["bookAppointment"]["appointmentId"] == rest.json()["id"]
    assert world.repository.commits == commits
    assert len(world.repository.appointments) == 1
    other = await graphql(client, BOOK, {"input": INPUT | {"durationMinutes": 30}, "key": "b3"})
    assert other["errors"][0]["extensions"]["type"] == PROBLEM_BASE + "idempotency-key-reused"


async def test_past_its_wait_budget_a_booking_is_pending_at_both_doors(
    client: httpx.AsyncClient, world: World
) -> None:
    prefer = {"Prefer": "respond-async"}  # no wait at all: the saga answers it still runs

    rest = await client.post(
        "/api/v1/appointments", json=BODY, headers=prefer | {"Idempotency-Key": "p1"}
    )
    answer = await client.post(
        "/graphql",
        json={"query": BOOK, "variables": {"input": INPUT, "key": "p2"}},
        headers=prefer,
    )

    assert rest.status_code == 202, rest.text
    accepted = rest.json()
    location = f"/api/v1/appointments/{accepted['appointment_id']}"
    assert (rest.headers["Location"], rest.headers["Retry-After"]) == (location, "1")
    run = booking.workflow_id("staff:frontdesk-1", "p1")  # the front desk's own run of p1
    assert (accepted["workflow_id"], rest.headers["Idempotency-Key"]) == (run, "p1")
    outcome = answer.json()["data"]["bookAppointment"]
    assert (outcome["pending"], outcome["appointment"]) == (True, None)
    assert world.repository.appointments == {}
    # Where REST points, the booking reads as pending until the saga persists it.
    pending = await client.get(location)
    assert (pending.status_code, pending.json()["status"]) == (200, "PENDING")


async def test_a_patient_learns_nothing_from_graphql_about_someone_elses(
    client: httpx.AsyncClient, world: World, settings: Settings, planted: Appointment
) -> None:
    world.view.add(planted)  # Anna's appointment
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, "pat-ben-meier")

    theirs = await graphql(client, READ, {"id": planted.id})
    missing = await graphql(client, READ, {"id": "7f0c3e9a-3f6e-4c65-9a59-5b8d1d0c1a11"})

    for answer in (theirs, missing):
        [error] = answer["errors"]
        error["extensions"].pop("requestId")
    assert theirs == missing


async def test_a_patient_learns_nothing_from_rest_about_someone_elses(
    client: httpx.AsyncClient, settings: Settings, planted: Appointment
) -> None:
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, "pat-ben-meier")
    missing_id = "7f0c3e9a-3f6e-4c65-9a59-5b8d1d0c1a11"

    theirs = (await client.get(f"/api/v1/appointments/{planted.id}")).json()
    missing = (await client.get(f"/api/v1/appointments/{missing_id}")).json()

    assert theirs["status"] == missing["status"] == 404
    for problem in (theirs, missing):
        del problem["request_id"], problem["instance"]
    assert theirs == missing
