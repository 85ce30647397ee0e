"""Booking (``Booking.book``) and reading one appointment (``Booking.read``): the time rules
of domain/rules.py checked before any saga starts, what the saga is asked, what its
refusals become, and a booking whose saga still runs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from application.errors import SagaCancelled, SagaFailed
from application.permissions import NotVisible, Role
from application.results import PendingBooking, SagaRunning
from domain.errors import (
    BillingRefused,
    DomainError,
    InvalidAppointment,
    PatientNotFound,
    SlotNotOffered,
    SlotUnavailable,
)
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import (
    DOCTOR,
    LATER,
    NOW,
    OTHER_PATIENT,
    PATIENT,
    STAFF,
    THE_DOCTOR,
    THE_PATIENT,
    asking,
    booking,
)
from workflows.contracts.booking import BookingRequest


async def test_a_booking_is_scheduled_and_stored(world: World) -> None:
    command = booking(reason="cough")

    booked = await world.services.booking.book(command, asking(Role.STAFF, request_id="r-1"), 1.0)

    assert isinstance(booked, Appointment)
    assert world.repository.appointments[booked.id] == booked
    assert (booked.patient_id, booked.doctor_id, booked.start) == (PATIENT, DOCTOR, LATER)
    assert (booked.status, booked.duration_minutes, booked.reason) == (
        AppointmentStatus.SCHEDULED,
        15,
        "cough",
    )


async def test_the_saga_is_asked_with_the_key_fingerprint_and_caller(world: World) -> None:
    command = booking(idempotency_key="book-1")

    await world.services.booking.book(command, asking(Role.STAFF, request_id="r-1"), 1.0)

    [request] = world.sagas.requests
    assert isinstance(request, BookingRequest)
    assert (request.idempotency_key, request.fingerprint) == ("book-1", command.fingerprint())
    assert (request.caller.actor, request.caller.request_id) == ("staff:frontdesk-1", "r-1")
    assert request.billing_outage_policy == world.settings.billing_outage_policy
    uuid.UUID(request.appointment_id)  # a fresh id for the appointment


async def test_a_start_with_another_offset_is_the_same_instant(world: World) -> None:
    berlin_winter = timezone(timedelta(hours=1))

    booked = await world.services.booking.book(
        booking(start=LATER.astimezone(berlin_winter)), STAFF, 1.0
    )

    assert not isinstance(booked, SagaRunning)
    assert booked.start == LATER
    assert booked.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("start", "minutes", "detail"),
    [
        (NOW - timedelta(minutes=5), 15, "start must be in the future"),
        (NOW, 15, "start must be in the future"),
        (NOW + timedelta(days=365, minutes=5), 15, "within 365 days"),
        (LATER, 5, "between 10 and 120"),
        (LATER, 125, "between 10 and 120"),
        (LATER, 12, "a multiple of 5"),
        (LATER + timedelta(minutes=3), 15, "on a 5-minute boundary"),
        (LATER + timedelta(seconds=30), 15, "on a 5-minute boundary"),
    ],
    ids=["past", "now", "too far", "short", "long", "off-grid length", "minute", "second"],
)
async def test_a_time_the_rules_refuse_starts_no_saga(
    world: World, start: datetime, minutes: int, detail: str
) -> None:
    with pytest.raises(InvalidAppointment, match=detail):
        await world.services.booking.book(
            booking(start=start, duration_minutes=minutes), STAFF, 1.0
        )

    assert world.sagas.requests == []
    assert world.repository.appointments == {}


@pytest.mark.parametrize(
    ("start", "minutes"),
    [(NOW + timedelta(minutes=5), 10), (NOW + timedelta(days=365), 120)],
    ids=["soonest and shortest", "latest and longest"],
)
async def test_the_rules_edges_are_bookable(world: World, start: datetime, minutes: int) -> None:
    booked = await world.services.booking.book(
        booking(start=start, duration_minutes=minutes), STAFF, 1.0
    )

    assert not isinstance(booked, SagaRunning)
    assert booked.status is AppointmentStatus.SCHEDULED


async def test_a_taken_slot_is_refused_by_the_saga_and_nothing_is_stored(world: World) -> None:
    taken = await world.repository.plant(start=LATER + timedelta(minutes=10), duration_minutes=15)

    with pytest.raises(SlotUnavailable):
        await world.services.booking.book(booking(start=LATER, duration_minutes=15), STAFF, 1.0)

    assert list(world.repository.appointments) == [taken.id]


@pytest.mark.parametrize(
    "refusal",
    [
        PatientNotFound("no patient pat-anna-schmidt"),
        SlotNotOffered("the doctor is off duty"),
        BillingRefused("card declined"),
        SagaCancelled("booking"),
        SagaFailed("booking"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_saga_refusal_is_raised_as_it_is(
    world: World, refusal: DomainError | SagaFailed
) -> None:
    world.sagas.answer = refusal

    with pytest.raises(type(refusal)) as raised:
        await world.services.booking.book(booking(), STAFF, 1.0)

    assert raised.value is refusal
    assert world.repository.appointments == {}


async def test_a_saga_still_running_answers_its_run_and_reads_as_pending(world: World) -> None:
    command = booking(idempotency_key="slow-1")

    running = await world.services.booking.book(command, THE_PATIENT, 0.0)

    assert isinstance(running, SagaRunning)
    assert running.workflow_id is None  # shown to staff and admin only (test_saga_runs.py)
    assert world.repository.appointments == {}
    for owner in (THE_PATIENT, THE_DOCTOR, STAFF):
        pending = await world.services.booking.read(running.appointment_id, owner)
        assert isinstance(pending, PendingBooking)
        assert (pending.id, pending.patient_id, pending.doctor_id) == (
            running.appointment_id,
            PATIENT,
            DOCTOR,
        )
    with pytest.raises(NotVisible):
        await world.services.booking.read(running.appointment_id, asking(Role.PATIENT, "pat-x"))


async def test_a_booking_that_outlasts_the_wait_answers_running(world: World) -> None:
    world.sagas.answer = "running"

    running = await world.services.booking.book(booking(patient_id=OTHER_PATIENT), STAFF, 10.0)

    assert isinstance(running, SagaRunning)
    assert running.appointment_id == world.sagas.requests[0].appointment_id


async def test_a_stored_appointment_is_read_as_stored(world: World) -> None:
    appointment = await world.repository.plant(start=LATER, status=AppointmentStatus.CONFIRMED)

    assert await world.services.booking.read(appointment.id, STAFF) == appointment
