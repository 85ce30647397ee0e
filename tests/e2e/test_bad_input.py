"""Bad input gets a clear 4xx problem document and changes nothing (MongoDB, holds,
invoices): checked for each way a booking request can be wrong."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from tests.e2e.conftest import Slots, counts

pytestmark = pytest.mark.e2e


def _valid(start: str) -> dict[str, Any]:
    return {
        "patient_id": "pat-anna-schmidt",
        "doctor_id": "doc-on-call",
        "start": start,
        "duration_minutes": 15,
    }


def _shift(start: str, **delta: float) -> str:
    return (datetime.fromisoformat(start) + timedelta(**delta)).isoformat()


def _epoch(start: str) -> int:
    return int(datetime.fromisoformat(start).timestamp())


def _epoch_string(start: str) -> str:
    return str(_epoch(start))


BAD_BODIES: dict[str, tuple[Any, int, str]] = {
    # name: (change to a valid body, expected status, problem type suffix); a callable
    # value is given the valid start (so a lax API would book that very slot)
    "naive start": ({"start": "2031-01-06T09:00:00"}, 422, "validation-error"),
    "start not a date": ({"start": "next tuesday"}, 422, "validation-error"),
    "start in the past": ({"start": "2020-01-06T09:00:00+01:00"}, 422, "invalid-appointment"),
    "start too far ahead": ({"start": "2099-01-05T09:00:00+01:00"}, 422, "invalid-appointment"),
    "duration too short": ({"duration_minutes": 5}, 422, "invalid-appointment"),
    "duration too long": ({"duration_minutes": 481}, 422, "validation-error"),
    "duration off the 5-minute unit": ({"duration_minutes": 17}, 422, "invalid-appointment"),
    "duration a string": ({"duration_minutes": "half an hour"}, 422, "validation-error"),
    "missing patient": ({"patient_id": None}, 422, "validation-error"),
    "patient id with spaces": ({"patient_id": "pat anna"}, 422, "validation-error"),
    "start as Unix seconds": ({"start": _epoch}, 422, "validation-error"),
    "start as a string of digits": ({"start": _epoch_string}, 422, "validation-error"),
    "duration as a string of digits": ({"duration_minutes": "15"}, 422, "validation-error"),
    "patient id padded with spaces": (
        {"patient_id": "  pat-anna-schmidt  "},
        422,
        "validation-error",
    ),
    "unknown field": ({"room": "12"}, 422, "validation-error"),
    "reason too long": ({"reason": "x" * 501}, 422, "validation-error"),
    "unknown patient": ({"patient_id": "pat-nobody"}, 422, "patient-not-found"),
    "unknown doctor": ({"doctor_id": "doc-nobody"}, 422, "doctor-not-found"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_bad_booking_request_is_refused_and_changes_nothing(
    case: str,
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
    slots: Slots,
) -> None:
    change, status, problem = BAD_BODIES[case]
    start = slots.next()
    change = {k: v(start) if callable(v) else v for k, v in change.items()}
    payload = {**_valid(start), **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    before = counts(mongo)
    holds_before = len(peers["doctor"].get("/holds").json())
    invoices_before = len(peers["billing"].get("/invoices").json())

    answer = api.post(
        "/api/v1/appointments", json=payload, headers={"Idempotency-Key": str(uuid.uuid4())}
    )

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    document = answer.json()
    assert document["type"].endswith("/" + problem)
    assert document["status"] == status
    assert document["title"]
    assert counts(mongo) == before
    assert len(peers["doctor"].get("/holds").json()) == holds_before
    assert len(peers["billing"].get("/invoices").json()) == invoices_before


def test_a_slot_off_the_doctors_grid_is_refused(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    before = counts(mongo)
    off_grid = _shift(slots.next(), minutes=5)  # the on-call doctor's grid is 15 minutes
    answer = api.post("/api/v1/appointments", json=_valid(off_grid))
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/slot-not-offered")
    assert counts(mongo) == before


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"[]", {"Content-Type": "application/json"}),
        (b"", {"Content-Type": "application/json"}),
    ],
)
def test_a_body_that_is_not_a_booking_is_a_422_problem(
    content: bytes, headers: dict[str, str], api: httpx.Client, mongo: Database[dict[str, Any]]
) -> None:
    before = counts(mongo)
    answer = api.post("/api/v1/appointments", content=content, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert counts(mongo) == before


@pytest.mark.parametrize("key", ["has space", "x" * 129, "semi;colon"])
def test_a_malformed_idempotency_key_is_a_400_problem(
    key: str, api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    before = counts(mongo)
    answer = api.post(
        "/api/v1/appointments", json=_valid(slots.next()), headers={"Idempotency-Key": key}
    )
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/invalid-idempotency-key")
    assert counts(mongo) == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/appointments/not-a-uuid", 422),
        (f"/api/v1/appointments/{uuid.uuid4()}", 404),
        ("/api/v1/nothing-here", 404),
    ],
)
def test_reads_of_missing_things_are_problems(path: str, status: int, api: httpx.Client) -> None:
    answer = api.get(path)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"


def test_health_endpoints(api: httpx.Client) -> None:
    assert api.get("/health/live").json() == {"status": "ok"}
    ready = api.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"mongodb": "ok", "temporal": "ok"}


def test_swagger_documents_the_booking_endpoint(api: httpx.Client) -> None:
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/appointments"]["post"]
    assert {"201", "202", "409", "422"} <= set(post["responses"])
    assert spec["components"]["schemas"]["BookAppointment"]["examples"]
