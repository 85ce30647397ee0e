"""Booking over HTTP on the real local stack: the saga's effects in MongoDB, at the
simulators and in Temporal, idempotency, double booking, and a failing Billing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from localstack.service import LocalService
from tests.e2e.conftest import Slots, describe_workflow, log_lines
from tests.waiting import eventually
from workflows.search_attributes import (
    APPOINTMENT_ID,
    BOOKING_STATUS,
    DOCTOR_ID,
    PATIENT_ID,
)

pytestmark = pytest.mark.e2e

PATIENT = "pat-anna-schmidt"
DOCTOR = "doc-on-call"


def body(start: str, **extra: Any) -> dict[str, Any]:
    return {
        "patient_id": PATIENT,
        "doctor_id": DOCTOR,
        "start": start,
        "duration_minutes": 15,
        "reason": "Persistent cough",
        **extra,
    }


def book(api: httpx.Client, payload: dict[str, Any], key: str | None = None) -> httpx.Response:
    return api.post(
        "/api/v1/appointments", json=payload, headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


def test_a_booking_is_scheduled_with_its_events_outbox_invoice_hold_and_visible_run(
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
    service: LocalService,
    slots: Slots,
) -> None:
    key = str(uuid.uuid4())
    answer = book(api, body(slots.next()), key)

    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["status"] == "SCHEDULED"
    assert created["fhir_status"] == "booked"
    assert answer.headers["Location"] == f"/api/v1/appointments/{created['id']}"
    assert answer.headers["X-Request-ID"]

    stored = mongo["appointments"].find_one({"_id": created["id"]})
    assert stored is not None
    assert stored["status"] == "SCHEDULED"
    assert stored["version"] == 2
    assert stored["invoice_id"] == created["invoice_id"]

    events = list(mongo["appointment_events"].find({"appointment_id": created["id"]}).sort("seq"))
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "appointment.requested"),
        (2, "appointment.scheduled"),
    ]
    assert {e["workflow_id"] for e in events} == {f"booking-{key}"}
    assert all(e["run_id"] for e in events)
    assert events[0]["request_id"] == answer.headers["X-Request-ID"]

    outbox = list(mongo["outbox_events"].find({"key": created["id"]}).sort("created_at"))
    assert [o["_id"] for o in outbox] == [e["_id"] for e in events]
    envelope = outbox[-1]["envelope"]
    assert set(envelope) == {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "appointment_id",
        "actor",
        "data",
    }
    assert envelope["data"]["status"] == "SCHEDULED"
    # Whether the relay has published them yet is test_events_flow's business.

    invoices = peers["billing"].get("/invoices", params={"appointment_id": created["id"]}).json()
    assert [(i["id"], i["status"]) for i in invoices] == [(created["invoice_id"], "OPEN")]
    holds = peers["doctor"].get("/holds", params={"doctor_id": DOCTOR}).json()
    assert {h["id"]: h["status"] for h in holds}[created["hold_id"]] == "CONFIRMED"

    run = describe_workflow(service, f"booking-{key}")
    assert run.status.name == "COMPLETED"
    attributes = run.typed_search_attributes
    assert attributes[APPOINTMENT_ID] == created["id"]
    assert attributes[PATIENT_ID] == PATIENT
    assert attributes[DOCTOR_ID] == DOCTOR
    assert attributes[BOOKING_STATUS] == "SCHEDULED"

    fetched = api.get(answer.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_the_same_idempotency_key_gives_one_appointment(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    key = str(uuid.uuid4())
    payload = body(slots.next())
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda _: book(api, payload, key), range(4)))
    after = book(api, payload, key)

    answers = [*concurrent, after]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert mongo["appointments"].count_documents({"booking_workflow_id": f"booking-{key}"}) == 1


def test_the_same_key_with_another_request_is_refused(api: httpx.Client, slots: Slots) -> None:
    key = str(uuid.uuid4())
    assert book(api, body(slots.next()), key).status_code == 201
    reused = book(api, body(slots.next()), key)
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("/idempotency-key-reused")


def test_a_second_booking_of_the_same_slot_gets_409(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    start = slots.next()
    first = book(api, body(start))
    assert first.status_code == 201
    second = book(api, body(start, patient_id="pat-ben-okafor"))

    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"].endswith("/slot-unavailable")
    active = mongo["appointments"].count_documents(
        {"doctor_id": DOCTOR, "start": _utc(start), "status": {"$in": ["PENDING", "SCHEDULED"]}}
    )
    assert active == 1


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


def test_billing_failing_leaves_the_appointment_failed_the_hold_released_and_no_invoice(
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
    service: LocalService,
    slots: Slots,
) -> None:
    peers["billing"].put("/_sim/faults", json={"mode": "fail"}).raise_for_status()
    key = str(uuid.uuid4())
    start = slots.next()
    answer = book(api, body(start), key)

    assert answer.status_code == 503, answer.text
    assert answer.json()["type"].endswith("/booking-failed")
    stored = eventually(
        lambda: mongo["appointments"].find_one(
            {"booking_workflow_id": f"booking-{key}", "status": "FAILED"}
        )
    )
    events = list(mongo["appointment_events"].find({"appointment_id": stored["_id"]}).sort("seq"))
    assert [e["type"] for e in events] == ["appointment.requested", "appointment.booking_failed"]
    holds = peers["doctor"].get("/holds", params={"doctor_id": DOCTOR}).json()
    assert {h["id"]: h["status"] for h in holds}[stored["hold_id"]] == "RELEASED"

    # Billing comes back: the void compensation finds nothing to void, the saga ends.
    peers["billing"].put("/_sim/faults", json={"mode": "ok"}).raise_for_status()
    eventually(lambda: describe_workflow(service, f"booking-{key}").status.name == "FAILED")
    invoices = peers["billing"].get("/invoices", params={"appointment_id": stored["_id"]}).json()
    assert invoices == []
    # The slot is free again: someone else can book it.
    assert book(api, body(start, patient_id="pat-ben-okafor")).status_code == 201


def test_a_saga_outlasting_the_wait_budget_answers_202_with_a_location_that_resolves(
    api: httpx.Client, peers: dict[str, httpx.Client], slots: Slots
) -> None:
    peers["doctor"].put(
        "/_sim/faults", json={"mode": "slow", "delay_seconds": 1.0, "times": 2}
    ).raise_for_status()
    answer = api.post(
        "/api/v1/appointments",
        json=body(slots.next()),
        headers={"Idempotency-Key": str(uuid.uuid4()), "Prefer": "respond-async"},
    )
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    assert answer.json()["appointment_id"] in location

    pending = api.get(location)
    assert pending.status_code == 200
    assert pending.json()["status"] in {"PENDING", "SCHEDULED"}
    final = eventually(lambda: (r := api.get(location).json())["status"] == "SCHEDULED" and r)
    assert final["id"] == answer.json()["appointment_id"]


def test_one_request_id_finds_every_log_line_of_a_booking(
    api: httpx.Client, service: LocalService, slots: Slots
) -> None:
    request_id = uuid.uuid4().hex
    answer = api.post(
        "/api/v1/appointments",
        json=body(slots.next()),
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Request-ID": request_id},
    )
    assert answer.status_code == 201

    assert [line["status"] for line in log_lines(service, "api", request_id)] == [201]
    activities = {line["activity"] for line in log_lines(service, "worker", request_id)}
    assert {"validate_patient", "reserve_slot", "persist_pending", "mark_scheduled"} <= activities
