"""The cancellation and reschedule sagas over HTTP on the real local stack: each success
path, the late fee, refusals that change nothing, a peer failing before the commit
point, idempotent retries, and the runs in Temporal beside the booking."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from localstack.service import LocalService
from tests.e2e.conftest import Slots
from workflows.client import connect_temporal

pytestmark = pytest.mark.e2e

DOCTOR = "doc-on-call"


def book(api: httpx.Client, start: str) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/appointments",
        json={
            "patient_id": "pat-elif-yilmaz",
            "doctor_id": DOCTOR,
            "start": start,
            "duration_minutes": 15,
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def cancel(api: httpx.Client, appointment_id: str, key: str | None = None) -> httpx.Response:
    return api.post(
        f"/api/v1/appointments/{appointment_id}/cancel",
        json={"reason": "feeling better"},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


def reschedule(api: httpx.Client, appointment_id: str, start: str) -> httpx.Response:
    return api.post(
        f"/api/v1/appointments/{appointment_id}/reschedule",
        json={"start": start},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def soon_slot(doctor: httpx.Client) -> str:
    """A free slot less than 24 hours ahead: cancelling it costs the late fee."""
    start = datetime.now(UTC) + timedelta(minutes=30)
    window = {"from": start.isoformat(), "to": (start + timedelta(hours=22)).isoformat()}
    slots = doctor.get(f"/doctors/{DOCTOR}/availability", params=window).json()["slots"]
    return str(slots[-1]["start"])


def invoice(billing: httpx.Client, invoice_id: str) -> dict[str, Any]:
    return dict(billing.get(f"/invoices/{invoice_id}").json())


def hold_status(doctor: httpx.Client, hold_id: str) -> str:
    return str(doctor.get(f"/holds/{hold_id}").json()["status"])


def event_types(mongo: Database[dict[str, Any]], appointment_id: str) -> list[str]:
    events = mongo["appointment_events"].find({"appointment_id": appointment_id}).sort("seq")
    return [e["type"] for e in events]


def test_a_free_cancellation_voids_the_invoice_and_frees_the_slot(
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
    service: LocalService,
    slots: Slots,
) -> None:
    start = slots.next()
    booked = book(api, start)
    answer = cancel(api, booked["id"])

    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["fhir_status"] == "cancelled"
    assert invoice(peers["billing"], booked["invoice_id"])["status"] == "VOID"
    assert hold_status(peers["doctor"], booked["hold_id"]) == "RELEASED"
    assert event_types(mongo, booked["id"])[-1] == "appointment.cancelled"
    last = mongo["appointment_events"].find_one({"appointment_id": booked["id"], "seq": 3})
    assert last is not None
    assert last["reason"] == "feeling better"
    assert last["actor"].startswith("staff:")
    assert last["workflow_id"].startswith("cancellation-")
    # The Temporal Web UI shows the cancellation beside the booking.
    assert sorted(runs_of(service, booked["id"])) == ["BookingWorkflow", "CancellationWorkflow"]
    # The slot is free again, for anyone.
    assert book(api, start)["status"] == "SCHEDULED"


def test_a_late_cancellation_issues_the_fee_of_the_policy_booked(
    api: httpx.Client, peers: dict[str, httpx.Client], service: LocalService
) -> None:
    booked = book(api, soon_slot(peers["doctor"]))
    assert booked["cancellation_free_hours"] == 24
    answer = cancel(api, booked["id"])

    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    fee = invoice(peers["billing"], cancelled["invoice_id"])
    assert fee["status"] == "OPEN"
    assert fee["amount_cents"] == booked["cancellation_fee_cents"] == 2500
    assert invoice(peers["billing"], booked["invoice_id"])["status"] == "VOID"


def test_cancelling_twice_with_one_key_is_one_cancellation(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    booked = book(api, slots.next())
    key = str(uuid.uuid4())
    first, again = cancel(api, booked["id"], key), cancel(api, booked["id"], key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert event_types(mongo, booked["id"]).count("appointment.cancelled") == 1


def test_a_cancelled_appointment_cannot_be_cancelled_or_moved(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    booked = book(api, slots.next())
    assert cancel(api, booked["id"]).status_code == 200
    before = mongo["appointments"].find_one({"_id": booked["id"]})

    for answer in (cancel(api, booked["id"]), reschedule(api, booked["id"], slots.next())):
        assert answer.status_code == 409, answer.text
        assert answer.json()["type"].endswith("/illegal-transition")
        assert "CANCELLED" in answer.json()["detail"]
    assert mongo["appointments"].find_one({"_id": booked["id"]}) == before


def test_billing_down_before_the_commit_point_leaves_the_appointment_as_it_was(
    api: httpx.Client, peers: dict[str, httpx.Client], mongo: Database[dict[str, Any]]
) -> None:
    booked = book(api, soon_slot(peers["doctor"]))  # late: the fee needs Billing first
    peers["billing"].put("/_sim/faults", json={"mode": "fail"}).raise_for_status()
    answer = cancel(api, booked["id"])

    assert answer.status_code == 503, answer.text
    assert answer.json()["type"].endswith("/cancellation-failed")
    stored = mongo["appointments"].find_one({"_id": booked["id"]})
    assert stored is not None
    assert stored["status"] == "SCHEDULED"
    assert stored["version"] == booked["version"]
    peers["billing"].put("/_sim/faults", json={"mode": "ok"}).raise_for_status()
    assert hold_status(peers["doctor"], booked["hold_id"]) == "CONFIRMED"
    assert invoice(peers["billing"], booked["invoice_id"])["status"] == "OPEN"


def test_a_reschedule_moves_the_appointment_and_lets_the_old_slot_go(
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
    service: LocalService,
    slots: Slots,
) -> None:
    old_start = slots.next()
    booked = book(api, old_start)
    new_start = slots.next()
    answer = reschedule(api, booked["id"], new_start)

    assert answer.status_code == 200, answer.text
    moved = answer.json()
    assert moved["id"] == booked["id"]
    assert moved["status"] == "SCHEDULED"
    assert datetime.fromisoformat(moved["start"]) == datetime.fromisoformat(new_start)
    assert moved["version"] == booked["version"] + 1
    assert hold_status(peers["doctor"], moved["hold_id"]) == "CONFIRMED"
    assert hold_status(peers["doctor"], booked["hold_id"]) == "RELEASED"
    assert invoice(peers["billing"], moved["invoice_id"])["status"] == "OPEN"
    assert invoice(peers["billing"], booked["invoice_id"])["status"] == "VOID"
    assert event_types(mongo, booked["id"])[-1] == "appointment.rescheduled"
    assert "RescheduleWorkflow" in runs_of(service, booked["id"])
    # The old time is free again.
    assert book(api, old_start)["status"] == "SCHEDULED"


def test_a_reschedule_onto_a_taken_slot_leaves_the_original_untouched(
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
    slots: Slots,
) -> None:
    booked = book(api, slots.next())
    taken = book(api, slots.next())
    before = mongo["appointments"].find_one({"_id": booked["id"]})
    held_before = len(peers["doctor"].get("/holds", params={"status": "HELD"}).json())

    answer = reschedule(api, booked["id"], taken["start"])

    assert answer.status_code == 409, answer.text
    assert answer.json()["type"].endswith("/slot-unavailable")
    assert mongo["appointments"].find_one({"_id": booked["id"]}) == before
    assert len(peers["doctor"].get("/holds", params={"status": "HELD"}).json()) == held_before


def test_a_reschedule_failing_after_the_new_hold_releases_it(
    api: httpx.Client,
    peers: dict[str, httpx.Client],
    mongo: Database[dict[str, Any]],
    slots: Slots,
) -> None:
    booked = book(api, slots.next())
    before = mongo["appointments"].find_one({"_id": booked["id"]})
    held_before = peers["doctor"].get("/holds", params={"status": "HELD"}).json()
    peers["billing"].put("/_sim/faults", json={"mode": "fail"}).raise_for_status()
    answer = reschedule(api, booked["id"], slots.next())
    peers["billing"].put("/_sim/faults", json={"mode": "ok"}).raise_for_status()

    assert answer.status_code == 503, answer.text
    assert mongo["appointments"].find_one({"_id": booked["id"]}) == before
    held_after = peers["doctor"].get("/holds", params={"status": "HELD"}).json()
    assert held_after == held_before, "the new hold was released"


def runs_of(service: LocalService, appointment_id: str) -> list[str]:
    async def find() -> list[str]:
        client = await connect_temporal(service.settings)
        query = f"AppointmentId = '{appointment_id}'"
        return [run.workflow_type async for run in client.list_workflows(query)]

    return asyncio.run(find())
