"""A peer slower than our timeout, on the real local stack (issue #6): the saga must give up
after its retries and undo everything, including what the slow peer did after we stopped
waiting for it. Whether a circuit breaker opened meanwhile is test_breakers.py's business;
this test only asserts the final state."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import Slots
from tests.e2e.faults import (
    PATIENTS,
    assert_on_topic,
    assert_settled,
    wait_sagas_ended,
)
from tests.e2e.support import Stack, book, booking, workflow_id
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


def test_a_doctor_slower_than_its_timeout_makes_the_saga_undo_everything(
    stack: Stack, slots: Slots
) -> None:
    """The saga is caught while it waits on a slow Billing (appointment PENDING, slot held);
    then the Doctor Service turns slower (3 s) than our 2 s timeout, so every attempt to
    confirm the hold times out, and each one still confirms it late, behind our back. After
    its retries the saga compensates: the invoice VOID, the appointment FAILED, the hold
    RELEASED although the Doctor confirmed it; the request replayed answers 503
    booking-failed, and the slot can be booked again. Proves a peer slower than its timeout
    leaves nothing half-booked, not even what it did after we stopped waiting."""
    start = slots.next()
    key = str(uuid.uuid4())
    body = booking(start, PATIENTS[2])
    appointments = stack.mongo["appointments"]
    stack.fault("billing", "slow", delay_seconds=1.5)  # below the 2 s peer timeout

    accepted = book(stack.api, body, key, prefer="respond-async")
    assert accepted.status_code == 202, accepted.text
    appointment_id = accepted.json()["appointment_id"]
    try:
        eventually(
            lambda: appointments.find_one({"_id": appointment_id, "status": "PENDING"}),
            within=30,
            what="the saga persisted the appointment and waits on Billing",
        )
        # Armed while create_invoice runs: the next Doctor call is confirm_slot.
        stack.fault("doctor", "slow", delay_seconds=3)
        stack.fault("billing", "ok")
        eventually(
            lambda: appointments.find_one({"_id": appointment_id, "status": {"$ne": "PENDING"}}),
            within=60,
            what="the saga gave up on the Doctor Service",
        )
    finally:
        stack.fault("doctor", "ok")  # so the hold can be released

    ends = wait_sagas_ended(stack.service, [workflow_id(key)], within=60)
    stack.fails_on_purpose(workflow_id(key), "the Doctor Service too slow: the hold expired")
    assert ends[workflow_id(key)].status == "FAILED"
    assert_settled(stack, [appointment_id], [start])
    stored = stack.appointments([appointment_id])[appointment_id]
    assert stored["status"] == "FAILED"
    hold = stack.peers["doctor"].get(f"/holds/{stored['hold_id']}").json()
    assert hold["status"] == "RELEASED"
    invoices = stack.peers["billing"].get("/invoices", params={"appointment_id": appointment_id})
    assert [i["status"] for i in invoices.json()] == ["VOID"]
    events = stack.mongo["appointment_events"].find({"appointment_id": appointment_id}).sort("seq")
    assert [e["type"] for e in events] == ["appointment.requested", "appointment.booking_failed"]
    assert_on_topic(stack, [appointment_id])

    replayed = book(stack.api, body, key)
    assert replayed.status_code == 503, replayed.text
    assert replayed.json()["type"].endswith("/booking-failed")
    # Nothing of the failed booking blocks the slot.
    again = book(stack.api, booking(start, PATIENTS[3]))
    assert again.status_code == 201, again.text
