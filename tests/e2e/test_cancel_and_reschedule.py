"""The cancellation and reschedule sagas over HTTP on the real local stack: each success
path at the peers, the late fee, a slot already taken, a peer failing before the commit
point, a change the stored status refuses (no run at all), and the runs in Temporal
beside the booking. What may be cancelled or moved and
the Idempotency-Key of a saga are the use cases' (tests/unit/application/
test_saga_changes.py, test_saga_keys.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from domain.status import AppointmentStatus
from tests.e2e.conftest import Slots
from tests.e2e.support import (
    DOCTOR,
    Stack,
    booked,
    change,
    describe_workflow,
    event_types,
    plant,
    problem_type,
    soon_slot,
    workflow_ids,
    workflow_types,
)
from workflows.search_attributes import SAGA_OUTCOME

pytestmark = pytest.mark.e2e

PATIENT = "pat-elif-yilmaz"


def cancel(stack: Stack, appointment_id: str) -> httpx.Response:
    return change(stack.api, appointment_id, "cancel", reason="feeling better")


def runs_of(stack: Stack, appointment_id: str) -> list[str]:
    """The types of the runs the Temporal Web UI lists for the appointment."""
    return sorted(workflow_types(stack.service, f"AppointmentId = '{appointment_id}'"))


def run_of(stack: Stack, appointment_id: str, workflow: str) -> str:
    """The workflow id of the appointment's one run of ``workflow``."""
    query = f"AppointmentId = '{appointment_id}' AND WorkflowType = '{workflow}'"
    [workflow_id] = workflow_ids(stack.service, query)
    return workflow_id


def held(stack: Stack) -> list[dict[str, Any]]:
    """The holds the Doctor Service keeps HELD (not yet confirmed nor released)."""
    return list(stack.peers["doctor"].get("/holds", params={"status": "HELD"}).json())


def test_a_free_cancellation_voids_the_invoice_and_frees_the_slot(
    stack: Stack, slots: Slots
) -> None:
    start = slots.next()
    appointment = booked(stack.api, start, PATIENT)
    answer = cancel(stack, appointment["id"])

    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["fhir_status"]) == ("CANCELLED", "cancelled")
    assert stack.invoice(appointment["invoice_id"])["status"] == "VOID"
    assert stack.hold(appointment["hold_id"])["status"] == "RELEASED"
    last = stack.mongo["appointment_events"].find_one(
        {"appointment_id": appointment["id"], "seq": 3}
    )
    assert last is not None
    assert (last["type"], last["reason"]) == ("appointment.cancelled", "feeling better")
    assert last["actor"].startswith("staff:")
    assert last["workflow_id"].startswith("cancellation-")
    # The booking started the appointment's journey; the cancellation ended it.
    assert runs_of(stack, appointment["id"]) == [
        "AppointmentJourneyWorkflow",
        "BookingWorkflow",
        "CancellationWorkflow",
    ]
    # The slot is free again, for anyone.
    assert booked(stack.api, start)["status"] == "SCHEDULED"


def test_a_late_cancellation_issues_the_fee_of_the_policy_booked(stack: Stack) -> None:
    appointment = booked(stack.api, soon_slot(stack), PATIENT)
    assert appointment["cancellation_free_hours"] == 24
    answer = cancel(stack, appointment["id"])

    assert answer.status_code == 200, answer.text
    fee = stack.invoice(answer.json()["invoice_id"])
    assert (fee["status"], fee["amount_cents"]) == ("OPEN", 2500)
    assert appointment["cancellation_fee_cents"] == 2500
    assert stack.invoice(appointment["invoice_id"])["status"] == "VOID"


def test_billing_down_before_the_commit_point_leaves_the_appointment_as_it_was(
    stack: Stack,
) -> None:
    appointment = booked(stack.api, soon_slot(stack), PATIENT)  # late: Billing comes first
    stack.fault("billing", "fail")
    answer = cancel(stack, appointment["id"])

    assert answer.status_code == 503, answer.text
    stack.fails_on_purpose(
        run_of(stack, appointment["id"], "CancellationWorkflow"),
        "Billing down past the late fee's retries",
    )
    assert answer.json()["type"].endswith("/cancellation-failed")
    stored = stack.stored(appointment["id"])
    assert (stored["status"], stored["version"]) == ("SCHEDULED", appointment["version"])
    stack.fault("billing", "ok")
    assert stack.hold(appointment["hold_id"])["status"] == "CONFIRMED"
    assert stack.invoice(appointment["invoice_id"])["status"] == "OPEN"


def test_a_reschedule_moves_the_appointment_and_lets_the_old_slot_go(
    stack: Stack, slots: Slots
) -> None:
    old_start, new_start = slots.next(), slots.next()
    appointment = booked(stack.api, old_start, PATIENT)
    answer = change(stack.api, appointment["id"], "reschedule", start=new_start)

    assert answer.status_code == 200, answer.text
    moved: dict[str, Any] = answer.json()
    assert (moved["id"], moved["status"]) == (appointment["id"], "SCHEDULED")
    assert datetime.fromisoformat(moved["start"]) == datetime.fromisoformat(new_start)
    assert moved["version"] == appointment["version"] + 1
    assert stack.hold(moved["hold_id"])["status"] == "CONFIRMED"
    assert stack.hold(appointment["hold_id"])["status"] == "RELEASED"
    assert stack.invoice(moved["invoice_id"])["status"] == "OPEN"
    assert stack.invoice(appointment["invoice_id"])["status"] == "VOID"
    assert event_types(stack.mongo, appointment["id"])[-1] == "appointment.rescheduled"
    assert "RescheduleWorkflow" in runs_of(stack, appointment["id"])
    # The old time is free again.
    assert booked(stack.api, old_start)["status"] == "SCHEDULED"


def test_a_reschedule_onto_a_taken_slot_leaves_the_original_untouched(
    stack: Stack, slots: Slots
) -> None:
    appointment = booked(stack.api, slots.next(), PATIENT)
    taken = booked(stack.api, slots.next(), PATIENT)
    before, holds_before = stack.stored(appointment["id"]), held(stack)

    answer = change(stack.api, appointment["id"], "reschedule", start=taken["start"])

    assert answer.status_code == 409, answer.text
    assert answer.json()["type"].endswith("/slot-unavailable")
    assert (stack.stored(appointment["id"]), held(stack)) == (before, holds_before)
    # A correct answer, not a failure: the Web UI lists the run Completed, rejected.
    run = describe_workflow(stack.service, run_of(stack, appointment["id"], "RescheduleWorkflow"))
    assert run.status.name == "COMPLETED"
    assert run.typed_search_attributes[SAGA_OUTCOME] == "REJECTED"


@pytest.mark.parametrize("what", ["cancel", "reschedule"])
def test_a_change_a_completed_appointment_refuses_is_a_409_without_a_run(
    stack: Stack, slots: Slots, what: str
) -> None:
    """The stored status decides: no saga run is started only to be refused."""
    [appointment_id] = plant(stack.service, [(AppointmentStatus.COMPLETED, PATIENT, DOCTOR, None)])
    before = stack.stored(appointment_id)

    body = {"start": slots.next()} if what == "reschedule" else {"reason": "feeling better"}
    answer = change(stack.api, appointment_id, what, **body)

    assert (answer.status_code, problem_type(answer)) == (409, "illegal-transition"), answer.text
    assert stack.stored(appointment_id) == before
    assert runs_of(stack, appointment_id) == []


def test_a_reschedule_failing_after_the_new_hold_releases_it(stack: Stack, slots: Slots) -> None:
    appointment = booked(stack.api, slots.next(), PATIENT)
    before, holds_before = stack.stored(appointment["id"]), held(stack)
    stack.fault("billing", "fail")
    answer = change(stack.api, appointment["id"], "reschedule", start=slots.next())
    stack.fault("billing", "ok")

    assert answer.status_code == 503, answer.text
    stack.fails_on_purpose(
        run_of(stack, appointment["id"], "RescheduleWorkflow"),
        "Billing down past the new invoice's retries",
    )
    assert stack.stored(appointment["id"]) == before
    assert held(stack) == holds_before, "the new hold was released"
