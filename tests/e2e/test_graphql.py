"""GraphQL at /graphql on the real local stack, over HTTP: the mutations run the real
sagas (their runs are in Temporal, REST reads back the same appointment); the queries
answer what the read view holds (polled: the view is eventually consistent). Who may do
what, the limits, bad input and the saga's answers past its budget or refused are the
door's (tests/unit/graphql, tests/unit/api/test_doors_agree.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import (
    BASE,
    FRONT_DESK,
    booked,
    describe_workflow,
    ended,
    events_of,
    graphql,
    log_lines,
    workflow_id,
)
from tests.waiting import eventually
from workflows.contracts import cancellation, reschedule

pytestmark = pytest.mark.e2e

OWNER_PATIENT, OWNER_DOCTOR = "pat-greta-lindqvist", "doc-on-call"

OUTCOME = """appointmentId pending workflowId step
  appointment { id patientId doctorId start end durationMinutes timezone status fhirStatus
    reason notes invoiceId holdId bookingWorkflowId cancellationFreeHours
    cancellationFeeCents lateRescheduleCounts feeInvoiceId noShowAt noShowInvoiceId version
    createdAt updatedAt journey { reminders { offsetMinutes dueAt state } nextAction
      nextActionAt noShowCheckAt noShowFeeCents } }"""
BOOK = f"""mutation ($input: BookAppointmentInput!, $key: String!) {{
  bookAppointment(input: $input, idempotencyKey: $key) {{ {OUTCOME} }} }}"""
CANCEL = f"""mutation ($id: ID!, $key: String!) {{
  cancelAppointment(id: $id, idempotencyKey: $key, reason: "feeling better") {{ {OUTCOME} }} }}"""
RESCHEDULE = f"""mutation ($id: ID!, $start: DateTime!, $key: String!) {{
  rescheduleAppointment(id: $id, input: {{start: $start}}, idempotencyKey: $key) {{ {OUTCOME} }}
}}"""
ENTRY = """id patientId patientName doctorId doctorName doctorSpecialty day start end
  durationMinutes timezone status reason updatedAt"""
ONE = f"query ($id: ID!) {{ appointment(id: $id) {{ {ENTRY} }} }}"
SCHEDULE = """query ($doctor: ID!, $from: DateTime!, $to: DateTime!,
                    $statuses: [AppointmentStatus!]) {
  doctorSchedule(doctorId: $doctor, from: $from, to: $to, statuses: $statuses) { id status } }"""
PATIENT = """query ($patient: ID!, $from: DateTime!, $to: DateTime!) {
  patientAppointments(patientId: $patient, from: $from, to: $to) { id doctorId } }"""
FREE = "query ($doctor: ID!, $day: Date!) { freeSlots(doctorId: $doctor, day: $day) { start end } }"


def data(client: httpx.Client, query: str, **variables: Any) -> Any:
    """The one field the operation asks for, answered without an error."""
    answer = graphql(client, query, **variables).json()
    assert "errors" not in answer, answer
    [value] = answer["data"].values()
    return value


def booking(start: str, **more: Any) -> dict[str, Any]:
    return {
        "patientId": OWNER_PATIENT,
        "doctorId": OWNER_DOCTOR,
        "start": start,
        "durationMinutes": 15,
    } | more


INSTANTS = ("start", "end", "created_at", "updated_at", "no_show_at")
# The journey's enums: GraphQL spells them by name (NO_SHOW_CHECK), REST by value.
ENUMS = ("next_action", "state")


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def comparable(key: str, value: Any) -> Any:
    """One value as both doors mean it: instants as datetimes, enums by their value,
    nested objects and lists alike."""
    if isinstance(value, dict):
        return {snake(k): comparable(snake(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(key, item) for item in value]
    if isinstance(value, str) and (key in INSTANTS or key.endswith("_at")):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and key in ENUMS:
        return value.lower()
    return value


def as_rest(appointment: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL Appointment in REST's spelling, instants as datetimes."""
    return {snake(k): comparable(snake(k), v) for k, v in appointment.items()}


def rest_read(api: httpx.Client, appointment_id: str) -> dict[str, Any]:
    answer = api.get(f"{BASE}/{appointment_id}")
    assert answer.status_code == 200, answer.text
    return {k: comparable(k, v) for k, v in answer.json().items()}


def window(start: str) -> dict[str, str]:
    at = datetime.fromisoformat(start)
    return {
        "from": (at - timedelta(hours=1)).isoformat(),
        "to": (at + timedelta(hours=1)).isoformat(),
    }


# --- the mutations: the real sagas, the stored appointment ------------------------------


def test_book_runs_the_booking_saga_and_answers_the_stored_appointment(
    api: httpx.Client, service: LocalService, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    key = str(uuid.uuid4())
    answer = graphql(api, BOOK, input=booking(slots.next(), reason="Persistent cough"), key=key)

    outcome = answer.json()["data"]["bookAppointment"]
    assert (outcome["pending"], outcome["workflowId"], outcome["step"]) == (False, None, None)
    made = outcome["appointment"]
    assert (made["status"], made["fhirStatus"], made["version"]) == ("SCHEDULED", "booked", 2)
    assert made["bookingWorkflowId"] == workflow_id(key)  # the front desk sees runs
    assert outcome["appointmentId"] == made["id"]
    run = ended(service, workflow_id(key))  # once the journey it started runs
    assert (run.workflow_type, run.status.name) == ("BookingWorkflow", "COMPLETED")
    # REST reads back exactly the appointment the mutation answered.
    assert rest_read(api, made["id"]) == as_rest(made)
    # The request id goes from the GraphQL request into the saga's events and the log.
    request_id = answer.headers["X-Request-ID"]
    events = events_of(mongo, made["id"])
    assert [e["type"] for e in events] == ["appointment.requested", "appointment.scheduled"]
    assert (events[0]["request_id"], events[0]["actor"]) == (request_id, "staff:frontdesk-test")
    [line] = log_lines(service, "api", request_id)
    assert (line["route"], line["status"], line["role"]) == ("/graphql", 200, "staff")


def test_cancel_runs_the_cancellation_saga(
    api: httpx.Client, service: LocalService, peers: dict[str, httpx.Client], slots: Slots
) -> None:
    appointment, key = booked(api, slots.next(), OWNER_PATIENT), str(uuid.uuid4())

    outcome = data(api, CANCEL, id=appointment["id"], key=key)

    cancelled = outcome["appointment"]
    assert (outcome["pending"], cancelled["status"], cancelled["fhirStatus"]) == (
        False,
        "CANCELLED",
        "cancelled",
    )
    cancellation_run = cancellation.workflow_id(FRONT_DESK, key)
    assert describe_workflow(service, cancellation_run).status.name == "COMPLETED"
    assert rest_read(api, appointment["id"]) == as_rest(cancelled)
    invoice = peers["billing"].get(f"/invoices/{appointment['invoice_id']}").json()
    assert invoice["status"] == "VOID"


def test_reschedule_runs_the_reschedule_saga(
    api: httpx.Client, service: LocalService, slots: Slots
) -> None:
    appointment, key = booked(api, slots.next(), OWNER_PATIENT), str(uuid.uuid4())
    new_start = slots.next()

    moved = data(api, RESCHEDULE, id=appointment["id"], start=new_start, key=key)["appointment"]

    assert (moved["id"], moved["status"]) == (appointment["id"], "SCHEDULED")
    assert datetime.fromisoformat(moved["start"]) == datetime.fromisoformat(new_start)
    reschedule_run = reschedule.workflow_id(FRONT_DESK, key)
    assert describe_workflow(service, reschedule_run).status.name == "COMPLETED"
    assert rest_read(api, appointment["id"]) == as_rest(moved)


# --- the queries: what the read view holds ----------------------------------------------


def test_the_queries_answer_what_the_read_view_holds(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    start = slots.next()
    appointment_id = data(api, BOOK, input=booking(start), key=str(uuid.uuid4()))["appointmentId"]

    def settled() -> dict[str, Any] | None:  # the view sees PENDING before SCHEDULED
        found = graphql(api, ONE, id=appointment_id).json()["data"]["appointment"]
        return found if found and found["status"] == "SCHEDULED" else None

    entry = eventually(settled, what="the scheduled view row")

    row = mongo["appointment_read_view"].find_one({"_id": appointment_id})
    assert row is not None
    assert {
        snake(k): v for k, v in entry.items() if k not in ("start", "end", "updatedAt", "id")
    } == {k: row[k] for k in map(snake, entry) if k not in ("start", "end", "updated_at", "id")}
    assert datetime.fromisoformat(entry["start"]) == row["start"] == datetime.fromisoformat(start)
    assert entry["doctorName"]
    assert entry["patientName"]

    def listed(query: str, **variables: Any) -> list[dict[str, Any]]:
        return list(data(api, query, **window(start), **variables))

    assert {"id": appointment_id, "status": "SCHEDULED"} in listed(
        SCHEDULE, doctor=OWNER_DOCTOR, statuses=["SCHEDULED"]
    )
    assert {"id": appointment_id, "doctorId": OWNER_DOCTOR} in listed(
        PATIENT, patient=OWNER_PATIENT
    )

    def free() -> set[datetime]:
        found = data(api, FREE, doctor=OWNER_DOCTOR, day=entry["day"])
        return {datetime.fromisoformat(s["start"]) for s in found}

    assert datetime.fromisoformat(start) not in free()
    rest = api.get(
        f"/api/v1/doctors/{OWNER_DOCTOR}/free-slots", params={"day": entry["day"]}
    ).json()
    assert {datetime.fromisoformat(s["start"]) for s in rest["slots"]} == free()

    data(api, CANCEL, id=appointment_id, key=str(uuid.uuid4()))
    eventually(lambda: datetime.fromisoformat(start) in free(), what="the slot is free again")
    assert {"id": appointment_id, "status": "CANCELLED"} in listed(
        SCHEDULE, doctor=OWNER_DOCTOR, statuses=["CANCELLED"]
    )
