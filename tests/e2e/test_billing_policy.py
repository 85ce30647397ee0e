"""The billing outage policy "retry" over HTTP, on a local stack of its own (the shared one
runs the default, "compensate"): a booking made while Billing is down is answered 201
SCHEDULED without an invoice, its run waits on Billing visibly, and the invoice is recorded
once Billing is back. A cancellation meanwhile stops the invoicing; a refusal is no outage.

The stack's breaker resets after a second and the invoice is retried at least every
second, so Billing's return shows within seconds rather than a minute."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.model import replay
from localstack.service import LIFTED_QUOTAS, LocalService, ServicePorts
from persistence import AppointmentStore, connect
from tests.e2e.conftest import Slots, client_of, database_of, peer_of
from tests.e2e.support import (
    Stack,
    assert_failed_only_on_purpose,
    book_run,
    changed,
    describe_workflow,
    event_types,
)
from tests.waiting import eventually
from workflows.search_attributes import BOOKING_STATUS, SAGA_OUTCOME

pytestmark = pytest.mark.e2e

PATIENT = "pat-anna-schmidt"


@pytest.fixture(scope="module")
def retrying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    data_dir: Path = tmp_path_factory.mktemp("local-stack-billing-retry")
    overrides: dict[str, object] = {
        "billing_outage_policy": "retry",
        "billing_retry_max_interval_seconds": 1.0,
        "breaker_reset_seconds": 1.0,
        **LIFTED_QUOTAS,
    }
    with LocalService(data_dir, ServicePorts.free(), overrides=overrides) as local:
        yield local
        assert_failed_only_on_purpose(local)  # as the shared stack (conftest.service)


@pytest.fixture(scope="module")
def stack(retrying: LocalService) -> Iterator[Stack]:
    """This module's own stack, in the shared one's handle."""
    with (
        client_of(retrying, "staff", "frontdesk-test") as api,
        peer_of(retrying, "billing") as billing,
        peer_of(retrying, "doctor") as doctor,
        database_of(retrying) as mongo,
    ):
        yield Stack(retrying, api, {"billing": billing, "doctor": doctor}, mongo)


@pytest.fixture(scope="module")
def slots(stack: Stack) -> Slots:
    return Slots(stack.peers["doctor"])


@pytest.fixture(autouse=True)
def healthy_peers(stack: Stack) -> Iterator[None]:
    """This module's own stack (the shared one's fixture would start that one too)."""
    stack.fault("billing", "ok")
    yield
    stack.fault("billing", "ok")


def booked_while_billing_is_down(stack: Stack, slots: Slots) -> tuple[str, dict[str, Any]]:
    stack.fault("billing", "fail")
    wid, answer = book_run(stack.api, slots.next())
    assert answer.status_code == 201, answer.text
    return wid, answer.json()


def run_of(stack: Stack, wid: str) -> Any:
    return describe_workflow(stack.service, wid)


def test_a_booking_made_while_billing_is_down_is_invoiced_once_it_is_back(
    stack: Stack, slots: Slots
) -> None:
    wid, created = booked_while_billing_is_down(stack, slots)
    assert (created["status"], created["invoice_id"]) == ("SCHEDULED", None)

    run = run_of(stack, wid)
    assert run.status.name == "RUNNING", "the saga is still running: it waits on Billing"
    assert run.typed_search_attributes[BOOKING_STATUS] == "AWAITING_BILLING"
    history = event_types(stack.mongo, created["id"])
    assert history == ["appointment.requested", "appointment.scheduled"]

    stack.fault("billing", "ok")
    stored = eventually(
        lambda: stack.mongo["appointments"].find_one(
            {"_id": created["id"], "invoice_id": {"$ne": None}}
        ),
        what="the invoice recorded once Billing is back",
    )
    assert (stored["status"], stored["version"]) == ("SCHEDULED", 3)
    assert event_types(stack.mongo, created["id"])[-1] == "appointment.invoiced"
    outbox = stack.mongo["outbox_events"].find_one({"key": created["id"], "seq": 3})
    assert outbox is not None
    assert outbox["envelope"]["type"] == "appointment.invoiced"
    invoices = stack.invoices(created["id"])
    assert [(i["id"], i["status"]) for i in invoices] == [(stored["invoice_id"], "OPEN")]
    eventually(lambda: run_of(stack, wid).status.name == "COMPLETED")
    assert run_of(stack, wid).typed_search_attributes[BOOKING_STATUS] == "SCHEDULED"
    fetched = stack.api.get(f"/api/v1/appointments/{created['id']}").json()
    assert fetched["invoice_id"] == stored["invoice_id"]
    assert asyncio.run(_replays(stack.service, created["id"])), "the events rebuild the state"


def test_cancelling_while_the_invoice_is_pending_stops_the_invoicing(
    stack: Stack, slots: Slots
) -> None:
    wid, created = booked_while_billing_is_down(stack, slots)

    cancelled = changed(stack.api, created["id"], "cancel", reason="found another doctor")
    assert cancelled["status"] == "CANCELLED"  # nothing to void: there is no invoice

    stack.fault("billing", "ok")
    eventually(lambda: run_of(stack, wid).status.name == "COMPLETED")
    assert stack.invoices(created["id"]) == [], "the waiting run created nothing"
    stored = stack.stored(created["id"])
    assert (stored["status"], stored["invoice_id"]) == ("CANCELLED", None)
    assert "appointment.invoiced" not in event_types(stack.mongo, created["id"])


def test_a_refusal_from_billing_still_compensates(stack: Stack, slots: Slots) -> None:
    stack.fault("billing", "refuse", times=1)
    wid, answer = book_run(stack.api, slots.next())
    assert answer.status_code == 402, answer.text
    stored = eventually(
        lambda: stack.mongo["appointments"].find_one(
            {"booking_workflow_id": wid, "status": "FAILED"}
        )
    )
    assert stack.invoices(stored["_id"]) == []


def test_billing_refusing_the_late_invoice_withdraws_the_booking(
    stack: Stack, slots: Slots
) -> None:
    """Past the commit point there is no FAILED: the booking is cancelled, its slot freed."""
    wid, created = booked_while_billing_is_down(stack, slots)
    stack.fault("billing", "refuse")
    # Billing's refusal is a business answer: the run completes, rejected.
    eventually(lambda: run_of(stack, wid).status.name == "COMPLETED")
    assert run_of(stack, wid).typed_search_attributes[SAGA_OUTCOME] == "REJECTED"
    stored = stack.stored(created["id"])
    assert (stored["status"], stored["invoice_id"]) == ("CANCELLED", None)
    assert event_types(stack.mongo, created["id"])[-1] == "appointment.cancelled"
    assert stack.hold(created["hold_id"])["status"] == "RELEASED"
    assert run_of(stack, wid).typed_search_attributes[BOOKING_STATUS] == "REJECTED"


async def _replays(service: LocalService, appointment_id: str) -> bool:
    client = await connect(service.settings)
    try:
        store = AppointmentStore(client, service.settings.kafka_topic)
        stored = await store.get(appointment_id)
        return stored is not None and replay(await store.history(appointment_id)) == stored
    finally:
        await client.close()
