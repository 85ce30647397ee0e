"""The schedule read over REST on the real local stack: bookings made over the API reach
a doctor's schedule and leave the free slots (through the projector process and its read
view); who may read what; and bad input gets a 422 problem and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pymongo.database import Database

from tests.e2e.conftest import Slots, counts
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

DOCTOR, OTHER_DOCTOR = "doc-on-call", "doc-amelia-hart"
PATIENT = "pat-chiara-rossi"
CLINIC = ZoneInfo("Europe/Berlin")


def schedule_path(doctor_id: str = DOCTOR) -> str:
    return f"/api/v1/doctors/{doctor_id}/schedule"


def free_slots_path(doctor_id: str = DOCTOR) -> str:
    return f"/api/v1/doctors/{doctor_id}/free-slots"


def window(start: str, hours: float = 1) -> dict[str, str]:
    begin = datetime.fromisoformat(start) - timedelta(hours=hours)
    return {"from": begin.isoformat(), "to": (begin + timedelta(hours=2 * hours)).isoformat()}


def clinic_day(start: str) -> str:
    return datetime.fromisoformat(start).astimezone(CLINIC).date().isoformat()


def problem_type(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return str(answer.json()["type"]).rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def booked(api: httpx.Client, slots: Slots) -> dict[str, Any]:
    """One appointment of the on-call doctor, booked over REST and seen in the view."""
    answer = api.post(
        "/api/v1/appointments",
        json={
            "patient_id": PATIENT,
            "doctor_id": DOCTOR,
            "start": slots.next(DOCTOR),
            "duration_minutes": 15,
            "reason": "Back pain",
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    appointment = dict(answer.json())

    def in_schedule() -> list[Any] | None:
        # The view sees PENDING first and SCHEDULED a moment later: wait for the version
        # the API answered with, not just for the row.
        found = api.get(schedule_path(), params=window(appointment["start"])).json()
        return [
            a
            for a in found["appointments"]
            if a["id"] == appointment["id"] and a["updated_at"] == appointment["updated_at"]
        ] or None

    eventually(in_schedule, what="the booked version reached the doctor's schedule")
    return appointment


def test_a_booking_shows_in_the_doctors_schedule(api: httpx.Client, booked: dict[str, Any]) -> None:
    query = window(booked["start"], hours=12)
    answer = api.get(schedule_path(), params=query)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["doctor_id"] == DOCTOR
    assert datetime.fromisoformat(body["from"]) == datetime.fromisoformat(query["from"])
    starts = [a["start"] for a in body["appointments"]]
    assert starts == sorted(starts)
    [entry] = [a for a in body["appointments"] if a["id"] == booked["id"]]
    assert entry == {
        "id": booked["id"],
        "patient_id": PATIENT,
        "patient_name": "Chiara Rossi",
        "doctor_id": DOCTOR,
        "doctor_name": "Dr. Noah Fischer (on call)",
        "doctor_specialty": "general practice",
        "day": clinic_day(booked["start"]),
        "start": booked["start"],
        "end": booked["end"],
        "duration_minutes": 15,
        "timezone": "Europe/Berlin",
        "status": "SCHEDULED",
        "reason": "Back pain",
        "updated_at": booked["updated_at"],
    }
    assert "notes" not in entry


def test_a_booked_slot_is_not_free_and_a_cancelled_one_is_again(
    api: httpx.Client, as_role: Callable[[str, str], httpx.Client], slots: Slots
) -> None:
    start = slots.next(DOCTOR)
    answer = api.post(
        "/api/v1/appointments",
        json={"patient_id": PATIENT, "doctor_id": DOCTOR, "start": start, "duration_minutes": 15},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    appointment_id = answer.json()["id"]
    patient = as_role("patient", PATIENT)  # anyone may see free slots
    day = {"day": clinic_day(start)}

    def free_starts() -> set[datetime]:
        answer = patient.get(free_slots_path(), params=day)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["doctor_id"], body["day"], body["timezone"]) == (
            DOCTOR,
            day["day"],
            "Europe/Berlin",
        )
        return {datetime.fromisoformat(s["start"]) for s in body["slots"]}

    taken = datetime.fromisoformat(start)
    eventually(lambda: taken not in free_starts(), what="the booked slot left the free ones")
    cancelled = api.post(
        f"/api/v1/appointments/{appointment_id}/cancel",
        json={"reason": "changed plans"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert cancelled.status_code == 200, cancelled.text
    eventually(lambda: taken in free_starts(), what="the cancelled slot is free again")


@pytest.mark.parametrize(
    ("role", "subject", "doctor_id", "expected"),
    [
        ("admin", "admin-1", DOCTOR, 200),
        ("staff", "frontdesk-1", DOCTOR, 200),
        ("doctor", DOCTOR, DOCTOR, 200),
        ("doctor", OTHER_DOCTOR, DOCTOR, 403),
        ("patient", PATIENT, DOCTOR, 403),  # even though it is their appointment
    ],
)
def test_who_may_read_a_schedule(
    as_role: Callable[[str, str], httpx.Client],
    booked: dict[str, Any],
    role: str,
    subject: str,
    doctor_id: str,
    expected: int,
) -> None:
    answer = as_role(role, subject).get(schedule_path(doctor_id), params=window(booked["start"]))
    if expected == 200:
        assert answer.status_code == 200, answer.text
        assert booked["id"] in [a["id"] for a in answer.json()["appointments"]]
    else:
        assert problem_type(answer, expected) == "forbidden"
        assert booked["id"] not in answer.text


@pytest.mark.parametrize("role", ["admin", "staff", "doctor", "patient"])
def test_every_role_may_see_free_slots(
    as_role: Callable[[str, str], httpx.Client], booked: dict[str, Any], role: str
) -> None:
    answer = as_role(role, f"{role}-someone").get(
        free_slots_path(OTHER_DOCTOR), params={"day": clinic_day(booked["start"])}
    )
    assert answer.status_code == 200, answer.text
    assert "patient" not in answer.text  # free slots name no one


def test_free_slots_of_an_unknown_doctor(api: httpx.Client) -> None:
    answer = api.get(free_slots_path("doc-nobody"), params={"day": "2030-01-07"})
    assert problem_type(answer, 404) == "doctor-not-found"


def test_without_a_token_it_is_401(anonymous: httpx.Client) -> None:
    answer = anonymous.get(schedule_path(), params={"from": "x", "to": "y"})
    assert problem_type(answer, 401) == "unauthorized"


BAD_SCHEDULE_QUERIES: dict[str, tuple[dict[str, str], str]] = {
    "no window": ({}, "validation-error"),
    "no to": ({"from": "2030-01-07T00:00:00+01:00"}, "validation-error"),
    "naive from": (
        {"from": "2030-01-07T00:00:00", "to": "2030-01-08T00:00:00+01:00"},
        "validation-error",
    ),
    "not a time": ({"from": "monday", "to": "2030-01-08T00:00:00+01:00"}, "validation-error"),
    "inverted": (
        {"from": "2030-01-08T00:00:00+01:00", "to": "2030-01-07T00:00:00+01:00"},
        "invalid-schedule-window",
    ),
    "empty": (
        {"from": "2030-01-07T00:00:00+01:00", "to": "2030-01-06T23:00:00Z"},
        "invalid-schedule-window",
    ),
    "too wide": (
        {"from": "2030-01-01T00:00:00+01:00", "to": "2030-06-01T00:00:00+02:00"},
        "invalid-schedule-window",
    ),
    "unknown parameter": (
        {"from": "2030-01-07T00:00:00+01:00", "to": "2030-01-08T00:00:00+01:00", "status": "X"},
        "validation-error",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCHEDULE_QUERIES))
def test_a_bad_schedule_query_is_a_422_that_changes_nothing(
    api: httpx.Client, mongo: Database[dict[str, Any]], case: str
) -> None:
    params, expected = BAD_SCHEDULE_QUERIES[case]
    before = counts(mongo)
    answer = api.get(schedule_path(), params=params)
    assert problem_type(answer, 422) == expected
    assert answer.json()["status"] == 422
    assert counts(mongo) == before


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (free_slots_path(), {}),
        (free_slots_path(), {"day": "07.01.2030"}),
        (free_slots_path(), {"day": "1893974400"}),  # Unix seconds: not a day
        (free_slots_path(), {"day": "2030-02-30"}),
        (free_slots_path(), {"day": "2030-01-07", "doctor": "x"}),
        (free_slots_path("doc on call"), {"day": "2030-01-07"}),
        (schedule_path("doc on call"), window("2030-01-07T09:00:00+01:00")),
    ],
    ids=["no day", "german date", "epoch", "no such date", "unknown parameter", "bad id", "bad id"],
)
def test_bad_free_slots_input_is_a_422_that_changes_nothing(
    api: httpx.Client, mongo: Database[dict[str, Any]], path: str, params: dict[str, str]
) -> None:
    before = counts(mongo)
    answer = api.get(path, params=params)
    assert problem_type(answer, 422) == "validation-error"
    assert counts(mongo) == before
