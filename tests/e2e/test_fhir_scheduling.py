"""IHE ITI Scheduling over the FHIR door on the real local stack: ``$find`` proposes a free
slot, ``$hold`` holds it at the Doctor Service, ``$book`` books on that hold through the
booking saga (REST shows it SCHEDULED with its invoice, the Doctor Service one confirmed
hold), a second ``$hold`` of the slot is the fatal not-found, and ``$book`` with
``cancelled`` frees it (the Slot search shows it free again). The operations' bad inputs
are tests/unit/fhir's."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Slots
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PATIENT = "pat-chiara-rossi"
FHIR = "/fhir/R4"


def fhir(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    return dict(answer.json())


def operation(api: httpx.Client, name: str, body: dict[str, Any], key: str) -> httpx.Response:
    return api.post(f"{FHIR}/Appointment/${name}", json=body, headers={"Idempotency-Key": key})


def reference(value: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "appointment-reference", "valueReference": {"reference": value}},
            {"name": "patient-reference", "valueReference": {"reference": f"Patient/{PATIENT}"}},
        ],
    }


def slot_status(api: httpx.Client, start: datetime) -> list[str]:
    window = [
        ("start", f"ge{start.isoformat()}"),
        ("start", f"lt{(start + timedelta(minutes=15)).isoformat()}"),
    ]
    answer = api.get(f"{FHIR}/Slot", params=[("schedule", "doc-on-call"), *window])
    return sorted(e["resource"]["status"] for e in fhir(answer).get("entry", []))


def test_find_hold_book_and_cancel(
    api: httpx.Client, peers: dict[str, httpx.Client], slots: Slots
) -> None:
    start = datetime.fromisoformat(slots.next())
    found = api.get(
        f"{FHIR}/Appointment/$find",
        params={
            "practitioner": "Practitioner/doc-on-call",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=15)).isoformat(),
            "patient-reference": f"Patient/{PATIENT}",
        },
    )
    (proposed,) = [e["resource"] for e in fhir(found)["entry"]]
    assert datetime.fromisoformat(proposed["start"]) == start
    assert proposed["start"].endswith(("+01:00", "+02:00"))  # the doctor's zone, Berlin

    held = fhir(
        operation(api, "hold", reference(f"Appointment/{proposed['id']}"), f"h-{uuid.uuid4()}")
    )
    assert held["status"] == "pending"
    assert held["id"].startswith("hold-")
    assert "busy-tentative" in slot_status(api, start)

    again = operation(api, "hold", reference(f"Appointment/{proposed['id']}"), f"h-{uuid.uuid4()}")
    (issue,) = fhir(again, 409)["issue"]
    assert (issue["severity"], issue["code"]) == ("fatal", "not-found")

    key = f"b-{uuid.uuid4()}"
    booked = operation(api, "book", reference(f"Appointment/{held['id']}"), key)
    appointment = fhir(booked, 201)
    assert appointment["status"] == "booked"
    assert booked.headers["location"] == f"{FHIR}/Appointment/{appointment['id']}"
    rest = api.get(f"/api/v1/appointments/{appointment['id']}").json()
    assert rest["status"] == "SCHEDULED"
    assert rest["invoice_id"]
    hold_id = held["id"].removeprefix("hold-")
    assert peers["doctor"].get(f"/holds/{hold_id}").json()["status"] == "CONFIRMED"
    holds = peers["doctor"].get("/holds", params={"doctor_id": "doc-on-call"}).json()
    assert [
        h["id"] for h in holds if h["start"] == rest["start"] and h["status"] != "RELEASED"
    ] == [hold_id]
    retried = operation(api, "book", reference(f"Appointment/{held['id']}"), key)
    assert fhir(retried, 201)["id"] == appointment["id"]

    cancel = {
        "resourceType": "Appointment",
        "id": appointment["id"],
        "status": "cancelled",
        "participant": [{"actor": {"reference": f"Patient/{PATIENT}"}, "status": "declined"}],
    }
    cancelled = fhir(operation(api, "book", cancel, f"c-{uuid.uuid4()}"))
    assert cancelled["status"] == "cancelled"
    eventually(lambda: slot_status(api, start) == ["free"], what="the cancelled slot is free again")
