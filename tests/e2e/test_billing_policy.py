"""The billing outage policy "retry" over HTTP, on a local stack of its own (the shared one
runs the default, "compensate"): a booking made while Billing is down is answered 201
SCHEDULED without an invoice, its run waits on Billing visibly, and the invoice is recorded
once Billing is back. A cancellation meanwhile stops the invoicing; a refusal is no outage.

The stack's breaker resets after a second and the invoice is retried at least every
second, so Billing's return shows within seconds rather than a minute."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from domain.model import replay
from localstack.service import LocalService, ServicePorts
from persistence import AppointmentStore, connect
from tests.e2e.conftest import Slots, describe_workflow, front_desk
from tests.waiting import eventually
from workflows.search_attributes import BOOKING_STATUS

pytestmark = pytest.mark.e2e

PATIENT = "pat-anna-schmidt"


@pytest.fixture(scope="module")
def retrying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    data_dir: Path = tmp_path_factory.mktemp("local-stack-billing-retry")
    overrides: dict[str, object] = {
        "billing_outage_policy": "retry",
        "billing_retry_max_interval_seconds": 1.0,
        "breaker_reset_seconds": 1.0,
    }
    with LocalService(data_dir, ServicePorts.free(), overrides=overrides) as local:
        yield local


@pytest.fixture(scope="module")
def api(retrying: LocalService) -> Iterator[httpx.Client]:
    with front_desk(retrying) as client:
        yield client


@pytest.fixture(scope="module")
def billing(retrying: LocalService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=retrying.peer_url("billing"), timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def mongo(retrying: LocalService) -> Iterator[Database[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(retrying.settings.mongo_uri, tz_aware=True)
    yield client[retrying.settings.mongo_database]
    client.close()


@pytest.fixture(scope="module")
def slots(retrying: LocalService) -> Iterator[Slots]:
    with httpx.Client(base_url=retrying.peer_url("doctor"), timeout=10) as doctor:
        yield Slots(doctor)


@pytest.fixture(autouse=True)
def healthy_peers(billing: httpx.Client) -> Iterator[None]:
    """This module's own stack (the shared one's fixture would start that one too)."""
    billing.put("/_sim/faults", json={"mode": "ok"}).raise_for_status()
    yield
    billing.put("/_sim/faults", json={"mode": "ok"}).raise_for_status()


def book(api: httpx.Client, start: str) -> tuple[str, httpx.Response]:
    key = str(uuid.uuid4())
    answer = api.post(
        "/api/v1/appointments",
        json={"patient_id": PATIENT, "doctor_id": "doc-on-call", "start": start,
              "duration_minutes": 15},
        headers={"Idempotency-Key": key},
    )  # fmt: skip
    return f"booking-{key}", answer


def booked_while_billing_is_down(
    api: httpx.Client, billing: httpx.Client, slots: Slots
) -> tuple[str, dict[str, Any]]:
    billing.put("/_sim/faults", json={"mode": "fail"}).raise_for_status()
    workflow_id, answer = book(api, slots.next())
    assert answer.status_code == 201, answer.text
    return workflow_id, answer.json()


def event_types(mongo: Database[dict[str, Any]], appointment_id: str) -> list[str]:
    events = mongo["appointment_events"].find({"appointment_id": appointment_id}).sort("seq")
    return [event["type"] for event in events]


def invoices(billing: httpx.Client, appointment_id: str) -> list[dict[str, Any]]:
    answer = billing.get("/invoices", params={"appointment_id": appointment_id})
    return list(answer.raise_for_status().json())


def test_a_booking_made_while_billing_is_down_is_invoiced_once_it_is_back(
    api: httpx.Client,
    billing: httpx.Client,
    mongo: Database[dict[str, Any]],
    retrying: LocalService,
    slots: Slots,
) -> None:
    workflow_id, created = booked_while_billing_is_down(api, billing, slots)
    assert (created["status"], created["invoice_id"]) == ("SCHEDULED", None)

    run = describe_workflow(retrying, workflow_id)
    assert run.status.name == "RUNNING", "the saga is still running: it waits on Billing"
    assert run.typed_search_attributes[BOOKING_STATUS] == "AWAITING_BILLING"
    assert event_types(mongo, created["id"]) == ["appointment.requested", "appointment.scheduled"]

    billing.put("/_sim/faults", json={"mode": "ok"}).raise_for_status()
    stored = eventually(
        lambda: mongo["appointments"].find_one({"_id": created["id"], "invoice_id": {"$ne": None}}),
        what="the invoice recorded once Billing is back",
    )
    assert (stored["status"], stored["version"]) == ("SCHEDULED", 3)
    assert event_types(mongo, created["id"])[-1] == "appointment.invoiced"
    outbox = mongo["outbox_events"].find_one({"key": created["id"], "seq": 3})
    assert outbox is not None
    assert outbox["envelope"]["type"] == "appointment.invoiced"
    assert [(i["id"], i["status"]) for i in invoices(billing, created["id"])] == [
        (stored["invoice_id"], "OPEN")
    ]
    eventually(lambda: describe_workflow(retrying, workflow_id).status.name == "COMPLETED")
    run = describe_workflow(retrying, workflow_id)
    assert run.typed_search_attributes[BOOKING_STATUS] == "SCHEDULED"
    fetched = api.get(f"/api/v1/appointments/{created['id']}").json()
    assert fetched["invoice_id"] == stored["invoice_id"]
    assert asyncio.run(_replays(retrying, created["id"])), "the events rebuild the state"


def test_cancelling_while_the_invoice_is_pending_stops_the_invoicing(
    api: httpx.Client,
    billing: httpx.Client,
    mongo: Database[dict[str, Any]],
    retrying: LocalService,
    slots: Slots,
) -> None:
    workflow_id, created = booked_while_billing_is_down(api, billing, slots)

    answer = api.post(
        f"/api/v1/appointments/{created['id']}/cancel",
        json={"reason": "found another doctor"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "CANCELLED"  # nothing to void: there is no invoice

    billing.put("/_sim/faults", json={"mode": "ok"}).raise_for_status()
    eventually(lambda: describe_workflow(retrying, workflow_id).status.name == "COMPLETED")
    assert invoices(billing, created["id"]) == [], "the waiting run created nothing"
    stored = mongo["appointments"].find_one({"_id": created["id"]})
    assert stored is not None
    assert (stored["status"], stored["invoice_id"]) == ("CANCELLED", None)
    assert "appointment.invoiced" not in event_types(mongo, created["id"])


def test_a_refusal_from_billing_still_compensates(
    api: httpx.Client, billing: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    billing.put("/_sim/faults", json={"mode": "refuse", "times": 1}).raise_for_status()
    workflow_id, answer = book(api, slots.next())
    assert answer.status_code == 402, answer.text
    stored = eventually(
        lambda: mongo["appointments"].find_one(
            {"booking_workflow_id": workflow_id, "status": "FAILED"}
        )
    )
    assert invoices(billing, stored["_id"]) == []


def test_billing_refusing_the_late_invoice_withdraws_the_booking(
    api: httpx.Client,
    billing: httpx.Client,
    mongo: Database[dict[str, Any]],
    retrying: LocalService,
    slots: Slots,
) -> None:
    """Past the commit point there is no FAILED: the booking is cancelled, its slot freed."""
    workflow_id, created = booked_while_billing_is_down(api, billing, slots)
    billing.put("/_sim/faults", json={"mode": "refuse"}).raise_for_status()
    eventually(lambda: describe_workflow(retrying, workflow_id).status.name == "FAILED")
    stored = mongo["appointments"].find_one({"_id": created["id"]})
    assert stored is not None
    assert (stored["status"], stored["invoice_id"]) == ("CANCELLED", None)
    assert event_types(mongo, created["id"])[-1] == "appointment.cancelled"
    with httpx.Client(base_url=retrying.peer_url("doctor"), timeout=10) as doctor:
        assert doctor.get(f"/holds/{created['hold_id']}").json()["status"] == "RELEASED"
    run = describe_workflow(retrying, workflow_id)
    assert run.typed_search_attributes[BOOKING_STATUS] == "REJECTED"


async def _replays(service: LocalService, appointment_id: str) -> bool:
    client = await connect(service.settings)
    try:
        store = AppointmentStore(client, service.settings.kafka_topic)
        stored = await store.get(appointment_id)
        return stored is not None and replay(await store.history(appointment_id)) == stored
    finally:
        await client.close()
