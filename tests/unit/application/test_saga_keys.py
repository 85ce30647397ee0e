"""A saga's Idempotency-Key: one run per caller and key. Retrying the key joins that run
and answers its outcome (a refusal too) without a second saga; the key with another
request is refused (IdempotencyKeyReused) and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.commands import Cancel, CancellationDetails, NewTime, Reschedule
from application.errors import IdempotencyKeyReused
from application.results import SagaRunning
from domain.errors import SlotUnavailable
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import LATER, STAFF, THE_PATIENT, booking, key

MOVED = LATER + timedelta(days=1)


def cancel(appointment: Appointment, key: str, reason: str | None = None) -> Cancel:
    details = CancellationDetails(reason=reason)
    return Cancel(appointment_id=appointment.id, cancellation=details, idempotency_key=key)


def move(appointment: Appointment, key: str, minutes_later: int = 0) -> Reschedule:
    new_time = NewTime(start=MOVED + timedelta(minutes=minutes_later))
    return Reschedule(appointment_id=appointment.id, new_time=new_time, idempotency_key=key)


# --- booking -------------------------------------------------------------------------------


async def test_a_booking_retried_with_its_key_joins_the_run(world: World) -> None:
    command = booking(idempotency_key="book-7")
    first = await world.services.booking.book(command, THE_PATIENT, 1.0)
    commits = world.repository.commits

    again = await world.services.booking.book(command, THE_PATIENT, 1.0)

    assert again == first
    assert world.repository.commits == commits
    assert len(world.repository.appointments) == 1


async def test_the_same_request_from_another_caller_is_not_joined(world: World) -> None:
    # A key is its caller's own (test_saga_runs.py): staff sending the patient's key and
    # request start a run of their own, which finds the slot taken by the patient's.
    command = booking(idempotency_key="book-8")
    await world.services.booking.book(command, THE_PATIENT, 1.0)

    with pytest.raises(SlotUnavailable):
        await world.services.booking.book(command, STAFF, 1.0)

    first, second = world.sagas.workflow_ids
    assert first != second
    assert len(world.repository.appointments) == 1


async def test_a_booking_key_with_another_request_is_refused(world: World) -> None:
    await world.services.booking.book(booking(idempotency_key="book-9"), STAFF, 1.0)
    commits = world.repository.commits

    with pytest.raises(IdempotencyKeyReused):
        await world.services.booking.book(
            booking(idempotency_key="book-9", duration_minutes=30), STAFF, 1.0
        )

    assert world.repository.commits == commits
    assert len(world.repository.appointments) == 1


async def test_a_refused_booking_retried_gets_the_same_refusal(world: World) -> None:
    taken = await world.repository.plant(start=LATER)
    command = booking(idempotency_key="book-10")
    with pytest.raises(SlotUnavailable) as first:
        await world.services.booking.book(command, STAFF, 1.0)
    del world.repository.appointments[taken.id]  # the slot is free again

    with pytest.raises(SlotUnavailable) as again:
        await world.services.booking.book(command, STAFF, 1.0)

    assert again.value is first.value
    assert world.repository.appointments == {}


async def test_a_running_booking_is_joined_while_it_runs(world: World) -> None:
    command = booking(idempotency_key="book-11")
    running = await world.services.booking.book(command, STAFF, 0.0)

    again = await world.services.booking.book(command, STAFF, 1.0)

    assert isinstance(again, SagaRunning)
    assert again == running
    assert world.repository.appointments == {}


# --- cancellation and reschedule -----------------------------------------------------------


async def test_a_cancellation_retried_answers_the_cancelled_appointment(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    command = cancel(appointment, key("cancel"), "flu")
    first = await world.services.sagas.cancel(command, STAFF, 1.0)
    commits = world.repository.commits

    again = await world.services.sagas.cancel(command, STAFF, 1.0)

    assert again == first
    assert isinstance(again, Appointment)
    assert again.status is AppointmentStatus.CANCELLED
    assert world.repository.commits == commits


@pytest.mark.parametrize("reason", [None, "other"])
async def test_a_cancellation_key_with_another_reason_is_refused(
    world: World, reason: str | None
) -> None:
    appointment = await world.repository.plant(start=LATER)
    used = key("cancel")
    await world.services.sagas.cancel(cancel(appointment, used, "flu"), STAFF, 1.0)

    with pytest.raises(IdempotencyKeyReused):
        await world.services.sagas.cancel(cancel(appointment, used, reason), STAFF, 1.0)


async def test_a_cancellation_key_used_on_another_appointment_is_refused(world: World) -> None:
    one = await world.repository.plant(start=LATER)
    other = await world.repository.plant(start=LATER + timedelta(hours=1))
    used = key("cancel")
    await world.services.sagas.cancel(cancel(one, used), STAFF, 1.0)

    with pytest.raises(IdempotencyKeyReused):
        await world.services.sagas.cancel(cancel(other, used), STAFF, 1.0)

    assert world.repository.appointments[other.id] == other


async def test_a_reschedule_retried_joins_and_another_time_is_refused(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    used = key("move")
    first = await world.services.sagas.reschedule(move(appointment, used), STAFF, 1.0)
    commits = world.repository.commits

    assert await world.services.sagas.reschedule(move(appointment, used), STAFF, 1.0) == first
    with pytest.raises(IdempotencyKeyReused):
        await world.services.sagas.reschedule(move(appointment, used, 15), STAFF, 1.0)

    assert world.repository.commits == commits
    stored = world.repository.appointments[appointment.id]
    assert stored.start == MOVED


async def test_a_key_is_one_run_per_kind_of_saga(world: World) -> None:
    # A cancellation and a reschedule are different runs even under one key.
    appointment = await world.repository.plant(start=LATER)
    used = key("both")

    moved = await world.services.sagas.reschedule(move(appointment, used), STAFF, 1.0)
    cancelled = await world.services.sagas.cancel(cancel(appointment, used), STAFF, 1.0)

    assert isinstance(moved, Appointment)
    assert isinstance(cancelled, Appointment)
    assert (cancelled.status, cancelled.version) == (
        AppointmentStatus.CANCELLED,
        moved.version + 1,
    )
    assert len(world.sagas.requests) == 2
