"""The stored document holds every field of the domain's appointment: a field the document
lacks is dropped without a word on the way into MongoDB (pydantic ignores extra values),
as the late-change policy's ``late_reschedule_counts`` and ``fee_invoice_id`` once were.
The same for the event store: every event, its ``details`` included, reads back as it was
made."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from domain.model import Appointment, replay
from domain.status import AppointmentStatus
from persistence import documents
from persistence.mapping import from_document, to_document
from tests.integration.persistence.conftest import Database
from tests.unit.messaging.lifecycles import every_event_type

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
        reminders_sent=(1440, 120),
        no_show_fee_cents=2500,
        no_show_at=START + timedelta(minutes=15),
        no_show_invoice_id="inv-no-show",
    )
    left_at_default = [
        f.name
        for f in dataclasses.fields(Appointment)
        if f.default is not dataclasses.MISSING and getattr(appointment, f.name) == f.default
    ]
    assert left_at_default == [], "set every field, so the round trip checks it"
    assert from_document(to_document(appointment)) == appointment


async def test_every_event_type_reads_back_from_the_store_as_it_was_made(
    database: Database,
) -> None:
    """The reminders' details (offset, local time, doctor, links), the no-show's time
    and invoice, the voided fee's details: stored, read back equal, and replayed."""
    changes = every_event_type()
    for change in changes:
        await database.store.commit(change)
    for appointment_id in {c.state.id for c in changes}:
        made = [c for c in changes if c.state.id == appointment_id]
        history = await database.store.history(appointment_id)
        assert history == [c.event for c in made]
        assert replay(history) == made[-1].state == await database.store.get(appointment_id)
    told = [c.event for c in changes if c.event.details]
    assert {e.type.value for e in told} >= {"appointment.reminder_due"}
    for event in told:
        assert await database.store.event(event.event_id) == event
