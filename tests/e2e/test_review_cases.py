"""The three cases the independent review reproduced against ``make run`` (issue #13),
exactly as a caller tries them, over REST and over GraphQL:

1. a booking whose Idempotency-Key ends in a newline took booking down on the worker (the
   Doctor Service's breaker opened on requests our own client could not send): now a 400
   ``invalid-idempotency-key``, and the very next booking is booked;
2. ``freeSlots(doctorId: "..")`` answered 500: now a 4xx, at both doors;
3. the late fee could be dodged by moving a late appointment far out for free and then
   cancelling it for free, and an appointment could be cancelled after it had started:
   now the late move carries the fee and a started appointment is only checked in or
   recorded as a no-show."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.status import AppointmentStatus
from localstack.servers import HOST
from tests.e2e.conftest import Slots
from tests.e2e.support import (
    BASE,
    DOCTOR,
    Stack,
    book,
    booked,
    booking,
    change,
    graphql,
    plant,
    problem_type,
    scrape,
    soon_slot,
    value,
)

pytestmark = pytest.mark.e2e

PATIENT = "pat-felix-bauer"
BOOK = """mutation ($input: BookAppointmentInput!, $key: String!) {
  bookAppointment(input: $input, idempotencyKey: $key) {
    pending appointment { id status } } }"""
CANCEL = """mutation ($id: ID!, $key: String!) {
  cancelAppointment(id: $id, idempotencyKey: $key) { appointment { id status invoiceId } } }"""
RESCHEDULE = """mutation ($id: ID!, $start: DateTime!, $key: String!) {
  rescheduleAppointment(id: $id, input: {start: $start}, idempotencyKey: $key) {
    appointment { id status start feeInvoiceId } } }"""
FREE = "query ($doctor: ID!, $day: Date!) { freeSlots(doctorId: $doctor, day: $day) { start } }"


def gql_booking(start: str) -> dict[str, Any]:
    return {"patientId": PATIENT, "doctorId": DOCTOR, "start": start, "durationMinutes": 15}


def only_error(answer: httpx.Response) -> dict[str, Any]:
    """The one error of a GraphQL answer, its extensions: REST's problem in GraphQL."""
    body = answer.json()
    [error] = body["errors"]
    return dict(error["extensions"])


def doctor_breaker_is_closed(stack: Stack) -> None:
    """The worker's Doctor Service breaker is closed, by its gauge on the worker's metrics."""
    url = f"http://{HOST}:{stack.service.ports.worker_metrics}/metrics"
    samples = scrape(url)
    assert value(samples, "appointments_peer_breaker_state", peer="doctor", state="closed") == 1


# --- 1. a key the worker could not send ------------------------------------------------


@pytest.mark.parametrize("key", ["x1\n", "..", "x1\r\n", "a/b"])
def test_graphql_refuses_a_key_that_is_no_header_and_the_next_booking_is_booked(
    stack: Stack, slots: Slots, key: str
) -> None:
    start = slots.next()
    answer = graphql(stack.api, BOOK, input=gql_booking(start), key=key)
    error = only_error(answer)
    assert (error["status"], error["type"].rsplit("/", 1)[-1]) == (400, "invalid-idempotency-key")
    assert answer.json()["data"]["bookAppointment"] is None

    again = graphql(stack.api, BOOK, input=gql_booking(start), key=str(uuid.uuid4())).json()
    assert again["data"]["bookAppointment"] is not None, again
    assert again["data"]["bookAppointment"]["appointment"]["status"] == "SCHEDULED", again
    rest = book(stack.api, booking(slots.next(), PATIENT))
    assert rest.status_code == 201, rest.text
    doctor_breaker_is_closed(stack)


@pytest.mark.parametrize("key", ["..", ".", "x 1", "x\t1", "ü"])
def test_rest_refuses_such_a_key_too_and_the_next_booking_is_booked(
    stack: Stack, slots: Slots, key: str
) -> None:
    start = slots.next()
    # httpx itself refuses to send a newline in a header, as it should: those keys can
    # only come through GraphQL's arguments. The rest of the rule is the same at REST.
    answer = stack.api.post(
        BASE, json=booking(start, PATIENT), headers={b"Idempotency-Key": key.encode()}
    )
    assert (answer.status_code, problem_type(answer)) == (400, "invalid-idempotency-key")
    assert book(stack.api, booking(start, PATIENT)).status_code == 201
    doctor_breaker_is_closed(stack)


# --- 2. a dot segment as a doctor id ----------------------------------------------------


@pytest.mark.parametrize("doctor", ["..", ".", "doc-on-call/..", "doc\n"])
def test_free_slots_of_a_doctor_id_that_is_a_path_trick_is_a_4xx_at_both_doors(
    stack: Stack, doctor: str
) -> None:
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    error = only_error(graphql(stack.api, FREE, doctor=doctor, day=day))
    assert 400 <= error["status"] < 500, error

    # REST: the id is a path segment of our own API; escaped so it reaches the route.
    escaped = doctor.replace(".", "%2E").replace("/", "%2F").replace("\n", "%0A")
    answer = stack.api.get(f"/api/v1/doctors/{escaped}/free-slots", params={"day": day})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    doctor_breaker_is_closed(stack)


# --- 3. the late fee, and nothing changes after the start -------------------------------


def test_rest_a_late_reschedule_carries_the_fee_and_the_free_cancel_after_it_stays_free(
    stack: Stack, slots: Slots
) -> None:
    appointment = booked(stack.api, soon_slot(stack), PATIENT)
    assert appointment["late_reschedule_counts"] is True

    moved = change(stack.api, appointment["id"], "reschedule", start=slots.next())
    assert moved.status_code == 200, moved.text
    fee_invoice = moved.json()["fee_invoice_id"]
    assert fee_invoice is not None
    fee = stack.invoice(fee_invoice)
    assert (fee["status"], fee["amount_cents"]) == ("OPEN", 2500)

    # The dodge: now more than 24 h ahead, the cancellation is free, but the fee is paid.
    cancelled = change(stack.api, appointment["id"], "cancel", reason="feeling better")
    assert cancelled.status_code == 200, cancelled.text
    assert stack.invoice(fee_invoice)["status"] == "OPEN"
    still_open = [i["id"] for i in stack.invoices(appointment["id"]) if i["status"] == "OPEN"]
    assert still_open == [fee_invoice], "the cancellation itself was early: no second fee"


def test_graphql_a_late_reschedule_carries_the_fee(stack: Stack, slots: Slots) -> None:
    appointment = booked(stack.api, soon_slot(stack), PATIENT)

    answer = graphql(
        stack.api, RESCHEDULE, id=appointment["id"], start=slots.next(), key=str(uuid.uuid4())
    ).json()

    moved = answer["data"]["rescheduleAppointment"]["appointment"]
    assert moved["status"] == "SCHEDULED", answer
    assert stack.invoice(moved["feeInvoiceId"])["amount_cents"] == 2500


def test_an_early_reschedule_is_free(stack: Stack, slots: Slots) -> None:
    appointment = booked(stack.api, slots.next(), PATIENT)
    moved = change(stack.api, appointment["id"], "reschedule", start=slots.next())
    assert moved.status_code == 200, moved.text
    assert moved.json()["fee_invoice_id"] is None


def started(stack: Stack) -> str:
    """A SCHEDULED appointment whose start has passed (planted: no booking takes one)."""
    [appointment_id] = plant(stack.service, [(AppointmentStatus.SCHEDULED, PATIENT, DOCTOR, None)])
    return appointment_id


def test_rest_after_the_start_cancel_and_reschedule_are_409_and_check_in_still_works(
    stack: Stack, slots: Slots
) -> None:
    appointment_id = started(stack)

    cancel = change(stack.api, appointment_id, "cancel", reason="overslept")
    move = change(stack.api, appointment_id, "reschedule", start=slots.next())
    confirm = change(stack.api, appointment_id, "confirm")

    for answer in (cancel, move, confirm):
        assert (answer.status_code, problem_type(answer)) == (409, "appointment-started")
    assert stack.stored(appointment_id)["status"] == "SCHEDULED"
    assert change(stack.api, appointment_id, "no-show").status_code == 200


def test_graphql_after_the_start_cancel_and_reschedule_are_409(stack: Stack, slots: Slots) -> None:
    appointment_id = started(stack)

    cancel = graphql(stack.api, CANCEL, id=appointment_id, key=str(uuid.uuid4()))
    move = graphql(stack.api, RESCHEDULE, id=appointment_id, start=slots.next(), key="k-move")

    for answer in (cancel, move):
        error = only_error(answer)
        assert (error["status"], error["type"].rsplit("/", 1)[-1]) == (409, "appointment-started")
    assert stack.stored(appointment_id)["status"] == "SCHEDULED"
    assert change(stack.api, appointment_id, "check-in").status_code == 200
