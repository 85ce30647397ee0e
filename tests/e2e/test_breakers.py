"""The worker's circuit breaker of the Billing Service on the real local stack (5
consecutive transient failures open it; the e2e stack lets one trial call through a
second later, production after 15 s): a Billing outage opens it, a booking then fails
fast and compensates, and once Billing is back the breaker closes and bookings succeed
again.

The worker has no HTTP port; its breakers are observed where an operator sees them, in
its log (every state change is a line), and the saga's failure type in Temporal."""

from __future__ import annotations

import asyncio
import json
from functools import partial

import pytest

from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import Stack, book_run, describe_workflow
from tests.waiting import eventually
from workflows.booking import BookingWorkflow
from workflows.client import connect_temporal
from workflows.contracts.booking import BookingProgress

pytestmark = pytest.mark.e2e

# Generous for any reset time up to the default 15 s: the compensations that wait for the
# breaker retry within about twice the reset time.
BREAKER_WITHIN = 40.0


def progress(service: LocalService, workflow_id: str) -> BookingProgress | None:
    async def ask() -> BookingProgress | None:
        client = await connect_temporal(service.settings)
        handle = client.get_workflow_handle_for(BookingWorkflow.run, workflow_id)
        return await handle.query(BookingWorkflow.progress)

    return asyncio.run(ask())


def failure_type(service: LocalService, workflow_id: str) -> str | None:
    """The saga's decided failure type, once it has one."""
    answer = progress(service, workflow_id)
    return answer.error_type if answer else None


def ended_failed(service: LocalService, workflow_id: str) -> bool:
    return bool(describe_workflow(service, workflow_id).status.name == "FAILED")


def billing_breaker(service: LocalService) -> list[str]:
    """The worker's billing breaker's states, oldest first, from its JSON log."""
    text = (service.infra.log_dir / "worker.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if '"breaker_to"' in line]
    return [line["breaker_to"] for line in lines if line.get("peer") == "billing"]


def test_a_billing_outage_opens_the_workers_breaker_and_its_recovery_closes_it(
    stack: Stack, slots: Slots
) -> None:
    api, service = stack.api, stack.service
    seen = len(billing_breaker(service))
    stack.fault("billing", "fail")

    # The first booking spends its invoice retries on the failing Billing: that opens it.
    first, answer = book_run(api, slots.next(), prefer="respond-async")
    stack.fails_on_purpose(first, "Billing down: the invoice's retries open the breaker")
    assert answer.status_code == 202, answer.text
    eventually(lambda: "open" in billing_breaker(service)[seen:], what="billing breaker open")
    # (a fault, or fast already if an earlier test left failures counted)
    assert eventually(lambda: failure_type(service, first)) in {"BookingFailed", "PeerCircuitOpen"}

    # The next one does not even ask Billing: it fails fast and compensates.
    second, answer = book_run(api, slots.next(), prefer="wait=3")
    stack.fails_on_purpose(second, "Billing's breaker open: fails fast")
    assert answer.status_code == 503, answer.text
    assert answer.json()["type"].endswith("/booking-failed")
    assert answer.headers["retry-after"]
    decided = progress(service, second)
    assert decided is not None
    assert (decided.error_type, decided.failed_step) == ("PeerCircuitOpen", "create_invoice")

    # The API's own breakers are not the worker's; an open one would only degrade it.
    ready = api.get("/health/ready")
    assert ready.status_code == 200
    assert set(ready.json()["breakers"]) == {"patient", "doctor", "billing"}

    # Billing is back: after the reset time one trial call (a waiting compensation's, or
    # a booking's) closes the breaker, and bookings succeed again.
    stack.fault("billing", "ok")
    eventually(
        lambda: billing_breaker(service)[-1:] == ["closed"],
        within=BREAKER_WITHIN,
        what="billing breaker closed",
    )
    _, answer = book_run(api, slots.next())
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "SCHEDULED"

    # Both failed bookings compensated: FAILED, their holds released, no invoice left open.
    for run in (first, second):
        eventually(
            partial(ended_failed, service, run), within=BREAKER_WITHIN, what=f"{run} compensated"
        )
        stored = stack.mongo["appointments"].find_one({"booking_workflow_id": run})
        assert stored is not None
        assert stored["status"] == "FAILED"
        assert stack.hold(stored["hold_id"])["status"] == "RELEASED"
        assert [i for i in stack.invoices(stored["_id"]) if i["status"] == "OPEN"] == []
