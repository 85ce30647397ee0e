"""The stored document holds every field of the domain's appointment: a field the document
lacks is dropped without a word on the way into MongoDB (pydantic ignores extra values),
as the late-change policy's ``late_reschedule_counts`` and ``fee_invoice_id`` once were."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from domain.model import Appointment
from domain.status import AppointmentStatus
from persistence import documents
from persistence.mapping import from_document, to_document
from tests.integration.persistence.conftest import Database

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def test_every_field_of_the_appointment_is_a_field_of_its_document() -> None:
    domain = {f.name for f in dataclasses.fields(Appointment)}
    assert domain <= set(documents.Appointment.model_fields)


async def test_an_appointment_with_no_default_value_left_survives_the_round_trip(
    database: Database,
) -> None:
    """(``database``: Beanie's documents are usable once it has initialised them.)"""
    appointment = Appointment(
        id="a-1",
        patient_id="p-1",
        doctor_id="d-1",
        start=START,
        duration_minutes=30,
        timezone="Europe/Berlin",
        status=AppointmentStatus.SCHEDULED,
        version=3,
        created_at=START - timedelta(days=2),
        updated_at=START - timedelta(days=1),
        reason="check-up",
        notes="bring the x-ray",
        hold_id="hold-1",
        invoice_id="inv-1",
        booking_workflow_id="booking-k1",
        cancellation_free_hours=12,
        cancellation_fee_cents=1000,
        late_reschedule_counts=True,
        fee_invoice_id="inv-fee",
    )
    left_at_default = [
        f.name
        for f in dataclasses.fields(Appointment)
        if f.default is not dataclasses.MISSING and getattr(appointment, f.name) == f.default
    ]
    assert left_at_default == [], "set every field, so the round trip checks it"
    assert from_document(to_document(appointment)) == appointment
