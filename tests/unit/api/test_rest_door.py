"""What the REST door adds to the use cases (tests/unit/application), in-process over HTTP
on the fakes: the routes of the status changes with their ETag, If-Match and
Idempotency-Key headers; the problem each refusal answers; and the bodies and query
parameters it refuses before anything starts. The running server keeps the same promises
(tests/e2e)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from application.permissions import Role
from config import Settings
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.api.conftest import NOW, PLANTED_START, bearer, nothing_started, problem_type

S = AppointmentStatus
BASE = "/api/v1/appointments"
STARTED = NOW - timedelta(hours=1)  # begun: a no-show may be recorded


@pytest.fixture
def as_admin(client: httpx.AsyncClient, settings: Settings) -> httpx.AsyncClient:
    """The client, as an admin: the one role that may make every change."""
    client.headers["Authorization"] = bearer(settings, Role.ADMIN, "admin-1")
    return client


# --- the changes, answered with the appointment and its ETag ---------------------------

# (method, path after the appointment's, body, the status it needs, the status it makes,
# the FHIR status it shows)
CHANGES: dict[str, tuple[str, str, dict[str, Any] | None, S, S, str]] = {
    "confirm": ("POST", "/confirm", {"reason": "phoned"}, S.SCHEDULED, S.CONFIRMED, "booked"),
    "check-in without a body": ("POST", "/check-in", None, S.SCHEDULED, S.CHECKED_IN,
                                "checked-in"),
    "complete": ("POST", "/complete", None, S.CHECKED_IN, S.COMPLETED, "fulfilled"),
    "no-show": ("POST", "/no-show", {"reason": "did not come"}, S.CONFIRMED, S.NO_SHOW,
                "noshow"),
    "edit": ("PATCH", "", {"notes": "bring the X-ray"}, S.SCHEDULED, S.SCHEDULED, "booked"),
    "enter in error": ("DELETE", "", None, S.CANCELLED, S.FAILED, "entered-in-error"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CHANGES))
async def test_a_change_answers_the_appointment_after_it_with_its_etag(
    as_admin: httpx.AsyncClient, world: World, name: str
) -> None:
    method, suffix, body, needs, becomes, fhir = CHANGES[name]
    # A no-show once begun; a confirmation before the start (after it, it is refused).
    start = STARTED if name == "no-show" else PLANTED_START
    appointment = await world.repository.plant(start=start, status=needs)

    answer = await as_admin.request(method, f"{BASE}/{appointment.id}{suffix}", json=body)

    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (shown["status"], shown["fhir_status"]) == (becomes, fhir)
    assert shown["version"] == appointment.version + 1
    assert answer.headers["ETag"] == f'"{shown["version"]}"'
    assert world.repository.appointments[appointment.id].status is becomes


REFUSALS: dict[str, tuple[str, str, S, str, str]] = {
    # name: (method, path after the appointment's, its status, problem, detail); it starts
    # on Tuesday, after now
    "an illegal transition": ("POST", "/confirm", S.CANCELLED, "illegal-transition",
                              "status CANCELLED"),
    "a no-show before the start": ("POST", "/no-show", S.SCHEDULED, "no-show-before-start",
                                   "before the appointment's start"),
    "entered in error while it holds its slot": ("DELETE", "", S.SCHEDULED,
                                                 "illegal-transition", "cancel it first"),
    "an edit once entered in error": ("PATCH", "", S.FAILED, "illegal-transition", "FAILED"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REFUSALS))
async def test_a_refused_change_is_a_409_problem_saying_why_and_changes_nothing(
    as_admin: httpx.AsyncClient, world: World, name: str
) -> None:
    method, suffix, status, problem, detail = REFUSALS[name]
    appointment = await world.repository.plant(start=PLANTED_START, status=status)
    body = {"notes": "x"} if method == "PATCH" else None

    answer = await as_admin.request(method, f"{BASE}/{appointment.id}{suffix}", json=body)

    assert problem_type(answer, 409) == problem
    assert detail in answer.json()["detail"]
    assert world.repository.appointments == {appointment.id: appointment}


async def test_if_match_guards_the_version(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    path = f"{BASE}/{planted.id}"
    stale = await client.post(f"{path}/confirm", headers={"If-Match": '"1"'})
    assert problem_type(stale, 409) == "concurrent-modification"
    assert world.repository.appointments == {planted.id: planted}

    etag = (await client.get(path)).headers["ETag"]
    assert etag == '"2"'
    fresh = await client.post(f"{path}/confirm", headers={"If-Match": etag})
    assert (fresh.status_code, fresh.headers["ETag"]) == (200, '"3"')
    anything = await client.post(f"{path}/check-in", headers={"If-Match": "*"})
    assert anything.json()["status"] == "CHECKED_IN"


async def test_if_match_takes_the_bare_version_too(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    """The schema allows ``If-Match: 2`` (a client, or a tool, that drops the quotes):
    the server reads it as the version, not as a malformed header."""
    path = f"{BASE}/{planted.id}"
    stale = await client.post(f"{path}/confirm", headers={"If-Match": "1"})
    assert problem_type(stale, 409) == "concurrent-modification"

    fresh = await client.post(f"{path}/confirm", headers={"If-Match": "2"})
    assert (fresh.status_code, fresh.headers["ETag"]) == (200, '"3"')


async def test_an_idempotency_key_makes_a_change_safe_to_retry(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    path = f"{BASE}/{planted.id}/confirm"
    key = {"Idempotency-Key": "confirm-1"}
    first = await client.post(path, headers=key, json={"reason": "phoned"})
    commits = world.repository.commits

    again = await client.post(path, headers=key, json={"reason": "phoned"})
    other = await client.post(path, headers=key, json={"reason": "emailed"})
    without = await client.post(path, json={"reason": "phoned"})

    assert (first.status_code, again.json()) == (200, first.json())
    assert problem_type(other, 422) == "idempotency-key-reused"
    assert problem_type(without, 409) == "illegal-transition"  # a new request
    assert world.repository.commits == commits


# --- what the door refuses before anything starts ----------------------------------------

CHANGE_ROUTES = [("POST", f"/{a}") for a in ("confirm", "check-in", "complete", "no-show")]
CHANGE_ROUTES += [("PATCH", ""), ("DELETE", "")]
BAD_CHANGES: dict[str, tuple[str, dict[str, Any], int, str]] = {
    # name: (where it goes, what is sent, status, problem)
    "id not a uuid": ("path", {}, 422, "validation-error"),
    "unknown body field": ("body", {"reason": "x", "room": "12"}, 422, "validation-error"),
    "reason not a string": ("body", {"reason": 5}, 422, "validation-error"),
    "notes not a string": ("body", {"notes": ["x"]}, 422, "validation-error"),
    "reason too long": ("body", {"reason": "x" * 501}, 422, "validation-error"),
    "body not an object": ("raw", {"content": b"[]"}, 422, "validation-error"),
    "body not json": ("raw", {"content": b"{reason"}, 422, "validation-error"),
    "no field to edit": ("body", {}, 422, "validation-error"),
    "If-Match half quoted": ("headers", {"If-Match": '"2'}, 400, "invalid-if-match"),
    "If-Match null": ("headers", {"If-Match": "null"}, 400, "invalid-if-match"),
    "If-Match weak": ("headers", {"If-Match": 'W/"2"'}, 400, "invalid-if-match"),
    "If-Match not a version": ("headers", {"If-Match": '"two"'}, 400, "invalid-if-match"),
    "Idempotency-Key malformed": ("headers", {"Idempotency-Key": "a b"}, 400,
                                  "invalid-idempotency-key"),
}  # fmt: skip
BODIES_OF = {"PATCH": set(BAD_CHANGES), "POST": set(BAD_CHANGES) - {"notes not a string"}}
BODIES_OF["POST"] -= {"no field to edit"}  # a status change's body is optional
BAD_CHANGE_CASES = [
    (method, suffix, name)
    for method, suffix in CHANGE_ROUTES
    for name, (where, *_) in BAD_CHANGES.items()
    if where not in ("body", "raw") or name in BODIES_OF.get(method, set())
]


@pytest.mark.parametrize(("method", "suffix", "name"), BAD_CHANGE_CASES)
async def test_bad_input_to_a_change_is_a_4xx_problem_and_changes_nothing(
    as_admin: httpx.AsyncClient,
    world: World,
    planted: Appointment,
    method: str,
    suffix: str,
    name: str,
) -> None:
    where, what, status, problem = BAD_CHANGES[name]
    sent: dict[str, Any] = {"headers": dict(what) if where == "headers" else {}}
    if where == "body":
        sent["json"] = what
    elif where == "raw":
        sent |= {"content": what["content"]}
        sent["headers"]["Content-Type"] = "application/json"
    elif method != "DELETE":
        sent["json"] = {"reason": "fine"}
    appointment_id = "not-a-uuid" if where == "path" else planted.id

    answer = await as_admin.request(method, f"{BASE}/{appointment_id}{suffix}", **sent)

    assert problem_type(answer, status) == problem
    nothing_started(world, planted)


@pytest.mark.parametrize(("method", "suffix"), CHANGE_ROUTES)
async def test_a_change_of_a_missing_appointment_is_a_404(
    as_admin: httpx.AsyncClient, world: World, method: str, suffix: str
) -> None:
    body = {"notes": "x"} if method == "PATCH" else None

    answer = await as_admin.request(method, f"{BASE}/{uuid.uuid4()}{suffix}", json=body)

    assert problem_type(answer, 404) == "appointment-not-found"
    assert world.repository.commits == 0


BOOKING: dict[str, Any] = {"patient_id": "pat-anna-schmidt", "doctor_id": "doc-on-call"}
BOOKING |= {"start": "2030-01-07T09:00:00+01:00", "duration_minutes": 15}
BAD_BOOKINGS: dict[str, tuple[dict[str, Any], str]] = {
    # name: (change to a valid body, problem); all 422
    "naive start": ({"start": "2030-01-07T09:00:00"}, "validation-error"),
    "start not a date": ({"start": "next tuesday"}, "validation-error"),
    "start in the past": ({"start": "2020-01-06T09:00:00+01:00"}, "invalid-appointment"),
    "start too far ahead": ({"start": "2099-01-05T09:00:00+01:00"}, "invalid-appointment"),
    "duration too short": ({"duration_minutes": 5}, "invalid-appointment"),
    "duration over the schema's bound": ({"duration_minutes": 481}, "validation-error"),
    "duration off the 5-minute unit": ({"duration_minutes": 17}, "invalid-appointment"),
    "duration a string": ({"duration_minutes": "half an hour"}, "validation-error"),
    "missing patient": ({"patient_id": None}, "validation-error"),
    "patient id with spaces": ({"patient_id": "pat anna"}, "validation-error"),
    "unknown field": ({"room": "12"}, "validation-error"),
    "reason too long": ({"reason": "x" * 501}, "validation-error"),
}


@pytest.mark.parametrize("name", list(BAD_BOOKINGS))
async def test_a_booking_the_door_refuses_starts_no_saga(
    client: httpx.AsyncClient, world: World, name: str
) -> None:
    change, problem = BAD_BOOKINGS[name]
    body = {k: v for k, v in (BOOKING | change).items() if v is not None}

    answer = await client.post(BASE, json=body, headers={"Idempotency-Key": "b-1"})

    assert problem_type(answer, 422) == problem
    assert answer.json()["title"]
    nothing_started(world)


@pytest.mark.parametrize("content", [b"{not json", b"[]", b""], ids=["not json", "list", "empty"])
async def test_a_body_that_is_not_a_booking_is_a_422_problem(
    client: httpx.AsyncClient, world: World, content: bytes
) -> None:
    answer = await client.post(BASE, content=content, headers={"Content-Type": "application/json"})

    assert problem_type(answer, 422) == "validation-error"
    nothing_started(world)


# --- reads: the history, a page of appointments, a doctor's schedule and free slots ----


async def test_the_patient_reads_the_history_with_staff_named_by_role_only(
    client: httpx.AsyncClient, settings: Settings, planted: Appointment
) -> None:
    path = f"{BASE}/{planted.id}/history"
    as_staff = (await client.get(path)).json()["events"]
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, planted.patient_id)

    answer = await client.get(path)

    assert answer.status_code == 200, answer.text
    events = answer.json()["events"]
    assert [e["seq"] for e in events] == [e["seq"] for e in as_staff] == [1, 2]
    assert {e["actor"] for e in as_staff} == {"staff:frontdesk-1"}
    assert {e["actor"] for e in events} == {"staff"}
    assert "frontdesk-1" not in answer.text


async def test_a_page_takes_its_filters_as_query_parameters(
    client: httpx.AsyncClient, world: World
) -> None:
    made = [
        await world.repository.plant(start=PLANTED_START + timedelta(hours=h), status=status)
        for h, status in enumerate([S.SCHEDULED, S.CONFIRMED, S.COMPLETED, S.CONFIRMED])
    ]
    params = {
        "status": ["CONFIRMED", "COMPLETED"],  # repeated
        "doctor_id": "doc-on-call",
        "from": (PLANTED_START + timedelta(minutes=30)).astimezone().isoformat(),
        "to": (PLANTED_START + timedelta(hours=3)).isoformat(),
    }

    answer = await client.get(BASE, params=params)

    assert answer.status_code == 200, answer.text
    assert [a["id"] for a in answer.json()["items"]] == [made[1].id, made[2].id]
    assert answer.json()["next_cursor"] is None


async def test_a_page_holds_20_unless_told_and_at_most_100(
    client: httpx.AsyncClient, world: World
) -> None:
    for minutes in range(0, 21 * 15, 15):
        await world.repository.plant(start=PLANTED_START + timedelta(minutes=minutes))

    default = (await client.get(BASE)).json()
    rest = (await client.get(BASE, params={"cursor": default["next_cursor"]})).json()

    assert (len(default["items"]), len(rest["items"]), rest["next_cursor"]) == (20, 1, None)
    assert len((await client.get(BASE, params={"limit": 100})).json()["items"]) == 21


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 101},
        {"limit": 0},
        {"limit": -1},
        {"limit": "ten"},
        {"from": "2021-03-01T08:00:00"},  # no offset
        {"to": "yesterday"},
        {"from": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"to": "9999-12-31T23:30:00-01:00"},  # after year 9999 in UTC
        {"from": "2030-01-08T00:00:00Z", "to": "2030-01-07T00:00:00Z"},
        {"from": "2030-01-07T00:00:00Z", "to": "2030-01-07T00:00:00Z"},
        {"status": "SCHEDULED,CONFIRMED"},  # a comma list: repeat the parameter instead
        {"status": "BOOKED"},
        {"doctor": "doc-on-call"},  # misspelt: refused, never ignored
        {"doctor_id": "doc with spaces"},
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64url of "[]"
        {"cursor": "eyJhIjogMX0"},  # base64url of '{"a": 1}'
        {"cursor": "x" * 600},
    ],
)
async def test_a_page_query_the_door_refuses_is_a_422(
    client: httpx.AsyncClient, world: World, params: dict[str, Any]
) -> None:
    answer = await client.get(BASE, params=params)

    assert problem_type(answer, 422) == "validation-error"
    nothing_started(world)


SCHEDULE = "/api/v1/doctors/doc-on-call/schedule"
FREE_SLOTS = "/api/v1/doctors/doc-on-call/free-slots"
MONDAY = {"from": "2030-01-07T00:00:00+01:00", "to": "2030-01-08T00:00:00+01:00"}


@pytest.mark.parametrize(
    ("path", "params", "problem"),
    [
        (SCHEDULE, {}, "validation-error"),
        (SCHEDULE, {"from": MONDAY["from"]}, "validation-error"),
        (SCHEDULE, MONDAY | {"from": "2030-01-07T00:00:00"}, "validation-error"),
        (SCHEDULE, MONDAY | {"from": "monday"}, "validation-error"),
        (SCHEDULE, MONDAY | {"status": "X"}, "validation-error"),
        (SCHEDULE, {"from": MONDAY["to"], "to": MONDAY["from"]}, "invalid-schedule-window"),
        (SCHEDULE, MONDAY | {"to": "2030-01-06T23:00:00Z"}, "invalid-schedule-window"),
        (SCHEDULE, MONDAY | {"to": "2030-06-01T00:00:00+02:00"}, "invalid-schedule-window"),
        ("/api/v1/doctors/doc on call/schedule", MONDAY, "validation-error"),
        (FREE_SLOTS, {}, "validation-error"),
        (FREE_SLOTS, {"day": "07.01.2030"}, "validation-error"),
        (FREE_SLOTS, {"day": "1893974400"}, "validation-error"),  # Unix seconds: no day
        (FREE_SLOTS, {"day": "2030-02-30"}, "validation-error"),
        (FREE_SLOTS, {"day": "2030-01-07", "doctor": "x"}, "validation-error"),
        ("/api/v1/doctors/doc on call/free-slots", {"day": "2030-01-07"}, "validation-error"),
    ],
    ids=[
        "schedule: no window",
        "schedule: no to",
        "schedule: naive from",
        "schedule: not a time",
        "schedule: unknown parameter",
        "schedule: inverted",
        "schedule: empty",
        "schedule: too wide",
        "schedule: bad doctor id",
        "free slots: no day",
        "free slots: german date",
        "free slots: epoch",
        "free slots: no such date",
        "free slots: unknown parameter",
        "free slots: bad doctor id",
    ],
)
async def test_a_schedule_or_free_slots_query_the_door_refuses_is_a_422(
    client: httpx.AsyncClient, world: World, path: str, params: dict[str, str], problem: str
) -> None:
    answer = await client.get(path, params=params)

    assert problem_type(answer, 422) == problem
    assert world.sagas.requests == []
    assert world.repository.commits == 0


async def test_free_slots_of_a_doctor_the_doctor_service_does_not_know_is_a_404(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/v1/doctors/doc-nobody/free-slots", params={"day": "2030-01-07"})

    assert problem_type(answer, 404) == "doctor-not-found"
