"""Booking over HTTP on the real local stack: the saga's effects in MongoDB, at the
simulators and in Temporal, one Idempotency-Key sent at once, the peers' refusals, a
failing Billing, a saga past the wait budget, and the log lines of one request. The
booking rules and the bodies the door refuses are tests/unit's (application/
test_booking.py, api/test_rest_door.py); a slot taken by a stampede, test_faults_races'."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest

from messaging.contract import validate_envelope
from tests.e2e.conftest import Slots
from tests.e2e.support import (
    DOCTOR,
    PATIENT,
    Stack,
    book,
    booking,
    counts,
    describe_workflow,
    ended,
    events_of,
    log_lines,
    problem_type,
    workflow_id,
)
from tests.waiting import eventually
from workflows.search_attributes import (
    APPOINTMENT_ID,
    BOOKING_STATUS,
    DOCTOR_ID,
    PATIENT_ID,
    SAGA_OUTCOME,
)

pytestmark = pytest.mark.e2e


def body(start: str, **extra: Any) -> dict[str, Any]:
    return booking(start, reason="Persistent cough", **extra)


def test_a_booking_is_scheduled_with_its_events_outbox_invoice_hold_and_visible_run(
    stack: Stack, slots: Slots
) -> None:
    key = str(uuid.uuid4())
    answer = book(stack.api, body(slots.next()), key)

    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert (created["status"], created["fhir_status"]) == ("SCHEDULED", "booked")
    assert answer.headers["Location"] == f"/api/v1/appointments/{created['id']}"
    assert answer.headers["X-Request-ID"]

    stored = stack.stored(created["id"])
    assert (stored["status"], stored["version"]) == ("SCHEDULED", 2)
    assert stored["invoice_id"] == created["invoice_id"]

    events = events_of(stack.mongo, created["id"])
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "appointment.requested"),
        (2, "appointment.scheduled"),
    ]
    assert {e["workflow_id"] for e in events} == {workflow_id(key)}
    assert all(e["run_id"] for e in events)
    assert events[0]["request_id"] == answer.headers["X-Request-ID"]

    outbox = list(stack.mongo["outbox_events"].find({"key": created["id"]}).sort("created_at"))
    assert [o["_id"] for o in outbox] == [e["_id"] for e in events]
    for row in outbox:
        validate_envelope(row["envelope"])  # the event contract (messaging/schemas)
    assert outbox[-1]["envelope"]["data"]["status"] == "SCHEDULED"
    # Whether the relay has published them yet is test_events_flow's business.

    invoices = stack.invoices(created["id"])
    assert [(i["id"], i["status"]) for i in invoices] == [(created["invoice_id"], "OPEN")]
    assert stack.hold(created["hold_id"])["status"] == "CONFIRMED"

    run = ended(stack.service, workflow_id(key))  # once the journey it started runs
    assert run.status.name == "COMPLETED"
    attributes = run.typed_search_attributes
    assert (attributes[APPOINTMENT_ID], attributes[BOOKING_STATUS]) == (created["id"], "SCHEDULED")
    assert attributes[SAGA_OUTCOME] == "COMPLETED"
    assert (attributes[PATIENT_ID], attributes[DOCTOR_ID]) == (PATIENT, DOCTOR)

    fetched = stack.api.get(answer.headers["Location"])
    assert (fetched.status_code, fetched.json()) == (200, created)


def test_one_idempotency_key_sent_at_once_gives_one_appointment(stack: Stack, slots: Slots) -> None:
    key = str(uuid.uuid4())
    payload = body(slots.next())
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda _: book(stack.api, payload, key), range(4)))
    after = book(stack.api, payload, key)
    other = book(stack.api, body(slots.next()), key)

    answers = [*concurrent, after]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    appointments = stack.mongo["appointments"]
    assert appointments.count_documents({"booking_workflow_id": workflow_id(key)}) == 1
    # The key of a run that ended, with another request: refused by what Temporal kept.
    assert (other.status_code, problem_type(other)) == (422, "idempotency-key-reused")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"patient_id": "pat-nobody"}, "patient-not-found"),
        ({"doctor_id": "doc-nobody"}, "doctor-not-found"),
        ({"start": "off the grid"}, "slot-not-offered"),
    ],
    ids=["the Patient Service", "the Doctor Service", "the doctor's grid"],
)
def test_a_booking_a_peer_refuses_is_a_422_and_leaves_nothing_anywhere(
    change: dict[str, Any], problem: str, stack: Stack, slots: Slots
) -> None:
    start = slots.next()
    if change.get("start"):  # the on-call doctor's grid is 15 minutes
        change = {"start": (datetime.fromisoformat(start) + timedelta(minutes=5)).isoformat()}

    def everything() -> tuple[dict[str, int], int, int]:
        peers = stack.peers
        holds, invoices = peers["doctor"].get("/holds"), peers["billing"].get("/invoices")
        return counts(stack.mongo), len(holds.json()), len(invoices.json())

    before = everything()
    key = str(uuid.uuid4())
    answer = book(stack.api, body(start) | change, key)

    assert (answer.status_code, problem_type(answer)) == (422, problem)
    assert everything() == before
    # A correct answer, not a failure: the Web UI lists the run Completed, rejected.
    run = describe_workflow(stack.service, workflow_id(key))
    assert run.status.name == "COMPLETED"
    attributes = run.typed_search_attributes
    assert (attributes[BOOKING_STATUS], attributes[SAGA_OUTCOME]) == ("REJECTED", "REJECTED")
    # Retried with its key, the ended run answers its refusal again from its result.
    again = book(stack.api, body(start) | change, key)
    assert (again.status_code, problem_type(again)) == (422, problem)


def test_billing_failing_leaves_the_appointment_failed_the_hold_released_and_no_invoice(
    stack: Stack, slots: Slots
) -> None:
    stack.fault("billing", "fail")
    key = str(uuid.uuid4())
    stack.fails_on_purpose(workflow_id(key), "Billing down past the invoice's retries")
    start = slots.next()
    answer = book(stack.api, body(start), key)

    assert answer.status_code == 503, answer.text
    assert answer.json()["type"].endswith("/booking-failed")
    stored = eventually(
        lambda: stack.mongo["appointments"].find_one(
            {"booking_workflow_id": workflow_id(key), "status": "FAILED"}
        )
    )
    assert [e["type"] for e in events_of(stack.mongo, stored["_id"])] == [
        "appointment.requested",
        "appointment.booking_failed",
    ]
    assert stack.hold(stored["hold_id"])["status"] == "RELEASED"

    # Billing comes back: the void compensation finds nothing to void, the saga ends.
    stack.fault("billing", "ok")
    eventually(lambda: describe_workflow(stack.service, workflow_id(key)).status.name == "FAILED")
    assert stack.invoices(stored["_id"]) == []
    # The slot is free again: someone else can book it.
    assert book(stack.api, body(start, patient_id="pat-ben-okafor")).status_code == 201


def test_a_saga_outlasting_the_wait_budget_answers_202_with_a_location_that_resolves(
    stack: Stack, slots: Slots
) -> None:
    stack.fault("doctor", "slow", delay_seconds=1.0, times=2)
    answer = book(stack.api, body(slots.next()), prefer="respond-async")
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    assert answer.json()["appointment_id"] in location

    pending = stack.api.get(location)
    assert pending.status_code == 200
    assert pending.json()["status"] in {"PENDING", "SCHEDULED"}
    final = eventually(
        lambda: (found := stack.api.get(location).json())["status"] == "SCHEDULED" and found
    )
    assert final["id"] == answer.json()["appointment_id"]


def test_one_request_id_finds_every_log_line_of_a_booking(stack: Stack, slots: Slots) -> None:
    answer = stack.api.post("/api/v1/appointments", json=body(slots.next()))
    assert answer.status_code == 201
    request_id = answer.headers["X-Request-ID"]

    assert [line["status"] for line in log_lines(stack.service, "api", request_id)] == [201]
    activities = {line["activity"] for line in log_lines(stack.service, "worker", request_id)}
    assert {"validate_patient", "reserve_slot", "persist_pending", "mark_scheduled"} <= activities
