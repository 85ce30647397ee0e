"""The shapes both APIs share: mutation arguments validated by the application's command
models (REST's bodies), the stored appointment shown with exactly REST's fields, a saga
past its wait budget answered as pending (REST's 202), and the LIST row of the matrix for
patientAppointments."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import strawberry
from strawberry.utils.str_converters import to_camel_case

from api.graphql.inputs import command
from api.graphql.schema import schema
from api.graphql.types import Appointment, AppointmentOutcome
from api.schemas import AppointmentOut, BookAppointment
from application.commands import Book, NewAppointment, NewTime
from application.errors import InvalidInput
from application.permissions import Forbidden, Principal, Role, doctor_seen_by
from application.results import SagaRunning
from domain.model import Appointment as StoredAppointment
from domain.status import AppointmentStatus
from tests.unit.graphql.conftest import FakeSchedule, MakeContext, execute

START = datetime(2030, 1, 7, 9, tzinfo=UTC)
BOOKING = {
    "patient_id": "pat-anna-schmidt",
    "doctor_id": "doc-on-call",
    "start": START,
    "duration_minutes": 15,
    "reason": None,
}


def stored(**changes: Any) -> StoredAppointment:
    appointment = StoredAppointment(
        id=str(uuid.uuid4()),
        patient_id="pat-anna-schmidt",
        doctor_id="doc-on-call",
        start=START,
        duration_minutes=15,
        timezone="Europe/Berlin",
        status=AppointmentStatus.SCHEDULED,
        version=2,
        created_at=START - timedelta(days=1),
        updated_at=START - timedelta(days=1),
    )
    return dataclasses.replace(appointment, **changes)


INPUT = {"appointment": "input"}


def test_arguments_go_through_the_command_rest_takes_its_body_into() -> None:
    book = command(Book, {"appointment": BOOKING, "idempotency_key": "k-1"}, INPUT)
    rest = BookAppointment.model_validate(BOOKING | {"start": START.isoformat()})
    assert book.appointment == NewAppointment.model_validate(rest.model_dump())
    assert book.fingerprint() == Book(appointment=rest, idempotency_key="k-1").fingerprint()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_minutes": 4}, "input.durationMinutes"),
        ({"patient_id": "no spaces allowed"}, "input.patientId"),
        ({"reason": "x" * 501}, "input.reason"),
    ],
)
def test_a_refusal_names_the_graphql_argument(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        command(Book, {"appointment": BOOKING | change, "idempotency_key": "k-1"}, INPUT)
    assert [e.field for e in refused.value.field_errors] == [field]


def test_a_missing_required_value_is_named_too() -> None:
    with pytest.raises(InvalidInput) as refused:
        command(NewTime, {"start": None}, {"start": "input.start"})
    assert refused.value.field_errors[0].field == "input.start"


def test_the_stored_appointment_has_exactly_rests_fields() -> None:
    graphql_fields = set(schema._schema.type_map["Appointment"].fields)  # type: ignore[attr-defined]
    assert graphql_fields == {to_camel_case(name) for name in AppointmentOut.model_fields}


def test_the_stored_appointment_shows_what_rest_shows() -> None:
    appointment = stored(invoice_id="inv-1", reason="cough")
    shown = Appointment.of(appointment)
    rest = AppointmentOut.of(appointment, None)
    assert shown.id == rest.id
    assert (shown.fhir_status, shown.end, shown.invoice_id) == ("booked", rest.end, "inv-1")


def test_a_finished_saga_answers_the_stored_appointment() -> None:
    appointment = stored()
    outcome = AppointmentOutcome.of(appointment)
    assert outcome.pending is False
    assert outcome.appointment is not None
    assert outcome.appointment.version == 2
    assert outcome.appointment_id == appointment.id


def test_a_saga_past_its_budget_answers_pending_like_rests_202() -> None:
    appointment_id = str(uuid.uuid4())
    booking = AppointmentOutcome.of(SagaRunning(appointment_id, "booking-k1", "invoice"))
    assert (booking.pending, booking.appointment, booking.step) == (True, None, "invoice")
    assert booking.workflow_id == "booking-k1"
    change = AppointmentOutcome.of(SagaRunning(appointment_id, "cancellation-k2"))
    assert (change.pending, change.appointment, change.workflow_id) == (
        True,
        None,
        "cancellation-k2",
    )


@pytest.mark.parametrize(
    ("role", "subject", "patient", "sees"),
    [
        ("admin", "admin-1", "pat-anna-schmidt", None),
        ("staff", "frontdesk-1", "pat-anna-schmidt", None),
        ("doctor", "doc-on-call", "pat-anna-schmidt", "doc-on-call"),
        ("patient", "pat-anna-schmidt", "pat-anna-schmidt", None),
    ],
)
def test_who_lists_which_rows_of_a_patient(
    role: str, subject: str, patient: str, sees: str | None
) -> None:
    assert doctor_seen_by(Principal(subject, Role(role)), patient) == sees


def test_a_patient_may_not_list_another_patient() -> None:
    with pytest.raises(Forbidden):
        doctor_seen_by(Principal("pat-david-kim", Role.PATIENT), "pat-anna-schmidt")


async def test_a_doctor_listing_a_patient_reads_only_their_rows(make_context: MakeContext) -> None:
    schedule = FakeSchedule()
    context = make_context("doctor", "doc-amelia-hart", schedule)
    result = await execute(
        context,
        '{ patientAppointments(patientId: "pat-anna-schmidt", from: "2030-01-01T00:00:00Z", '
        'to: "2030-02-01T00:00:00Z") { id } }',
    )
    assert result.errors is None
    assert result.data == {"patientAppointments": []}
    assert schedule.calls[0][1][-1] == "doc-amelia-hart"


# Mutations safe to retry without a key, as their REST routes: leaving twice answers the
# left entry; an offer is answered once (its id is the key), a second answer is a 409
# that names what became of it.
ANSWERED_ONCE = {"leave_waitlist", "accept_offer", "decline_offer"}


def test_the_mutations_need_an_idempotency_key() -> None:
    from api.graphql.schema import schema

    mutation = schema.get_type_by_name("Mutation")
    assert mutation is not None
    for field in cast(Any, mutation).fields:
        if field.python_name in ANSWERED_ONCE:
            continue
        key = next(a for a in field.arguments if a.python_name == "idempotency_key")
        assert key.type is str  # String!: required, no default
        assert key.default is strawberry.UNSET
