"""Idempotency-Keys are their caller's own (application/saga_runs.py): two callers who pick
the same key get a saga run each; the same caller, key and request get the same answer,
and another request with that key is refused. A run started before keys were scoped
(named ``booking-<key>``) is joined by the caller who started it, and by no one else.
Saga runs' ids are shown to staff and admin only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.access import Requester
from application.booking import booking_request
from application.commands import Book, Cancel, CancellationDetails, HistoryPage, ListAppointments
from application.errors import IdempotencyKeyReused
from application.permissions import Role
from application.results import PendingBooking, SagaDone, SagaRunning
from domain.events import event_id_for
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import (
    ADMIN,
    LATER,
    OTHER_PATIENT,
    PATIENT,
    STAFF,
    THE_DOCTOR,
    THE_PATIENT,
    asking,
    booking,
    key,
)
from workflows.contracts import booking as booking_saga
from workflows.contracts import cancellation
from workflows.contracts.cancellation import CancellationRequest

THE_OTHER_PATIENT = asking(Role.PATIENT, OTHER_PATIENT)
SOON = LATER + timedelta(hours=2)


async def booked(world: World, command: Book, who: Requester) -> Appointment:
    answer = await world.services.booking.book(command, who, 1.0)
    assert isinstance(answer, Appointment)
    return answer


# --- one run per caller and key -----------------------------------------------------------


async def test_two_patients_with_the_same_key_each_get_their_own_booking(world: World) -> None:
    same = key("shared")
    anna = await booked(world, booking(idempotency_key=same), THE_PATIENT)
    ben = await booked(
        world,
        booking(patient_id=OTHER_PATIENT, start=SOON, idempotency_key=same),
        THE_OTHER_PATIENT,
    )

    assert anna.id != ben.id
    assert (anna.patient_id, ben.patient_id) == (PATIENT, OTHER_PATIENT)
    assert set(world.repository.appointments) == {anna.id, ben.id}
    # Every id the runs derive from their workflow ids (events, holds, invoices) is apart.
    anna_run = booking_saga.workflow_id(THE_PATIENT.principal.actor, same)
    ben_run = booking_saga.workflow_id(THE_OTHER_PATIENT.principal.actor, same)
    assert anna_run != ben_run
    assert await world.repository.event(event_id_for(f"{anna_run}/pending"))
    assert await world.repository.event(event_id_for(f"{ben_run}/pending"))


async def test_a_caller_retrying_its_key_gets_its_own_answer_after_someone_else_used_it(
    world: World,
) -> None:
    same = key("shared")
    command = booking(idempotency_key=same)
    first = await booked(world, command, THE_PATIENT)
    await booked(
        world,
        booking(patient_id=OTHER_PATIENT, start=SOON, idempotency_key=same),
        THE_OTHER_PATIENT,
    )
    commits = world.repository.commits

    again = await booked(world, command, THE_PATIENT)

    assert again == first
    assert world.repository.commits == commits


async def test_a_caller_reusing_its_key_with_another_request_is_refused(world: World) -> None:
    same = key("shared")
    await booked(world, booking(idempotency_key=same), THE_PATIENT)
    # Another caller's use of the key with this other request does not make it the same.
    other = booking(idempotency_key=same, start=SOON)
    await booked(world, booking(patient_id=PATIENT, start=SOON, idempotency_key=same), STAFF)
    commits = world.repository.commits

    with pytest.raises(IdempotencyKeyReused):
        await world.services.booking.book(other, THE_PATIENT, 1.0)

    assert world.repository.commits == commits


async def test_staff_members_with_the_same_key_each_get_their_own_booking(world: World) -> None:
    same = key("desk")
    first = await booked(world, booking(idempotency_key=same), STAFF)
    second = await booked(
        world, booking(start=SOON, idempotency_key=same), asking(Role.STAFF, "frontdesk-2")
    )

    assert first.id != second.id


async def test_cancellation_keys_are_their_callers_own_too(world: World) -> None:
    anna = await world.repository.plant(start=LATER)
    ben = await world.repository.plant(start=SOON, patient_id=OTHER_PATIENT)
    same = key("cancel")

    for appointment, who in ((anna, THE_PATIENT), (ben, THE_OTHER_PATIENT)):
        cancel = Cancel(appointment_id=appointment.id, idempotency_key=same)
        cancelled = await world.services.sagas.cancel(cancel, who, 1.0)
        assert isinstance(cancelled, Appointment)
        assert cancelled.status is AppointmentStatus.CANCELLED

    assert world.sagas.workflow_ids == [
        cancellation.workflow_id(THE_PATIENT.principal.actor, same),
        cancellation.workflow_id(THE_OTHER_PATIENT.principal.actor, same),
    ]


# --- runs started before keys were scoped ---------------------------------------------------


async def legacy_booking(world: World, command: Book, who: Requester) -> str:
    """A booking run started under the old scheme by ``who``: its appointment's id."""
    legacy = booking_saga.legacy_workflow_id(command.idempotency_key)
    request = booking_request(command, who, world.settings)
    answer = await world.sagas.book(request, legacy, 1.0)
    assert isinstance(answer, SagaDone)
    return answer.appointment_id


async def test_a_run_started_under_the_old_scheme_is_joined_by_its_caller(world: World) -> None:
    command = booking(idempotency_key=key("old"))
    appointment_id = await legacy_booking(world, command, THE_PATIENT)
    commits = world.repository.commits

    again = await booked(world, command, THE_PATIENT)

    assert again.id == appointment_id
    assert world.repository.commits == commits
    assert world.sagas.workflow_ids[-1] == f"booking-{command.idempotency_key}"


async def test_a_run_of_the_old_scheme_refuses_its_caller_another_request(world: World) -> None:
    command = booking(idempotency_key=key("old"))
    await legacy_booking(world, command, THE_PATIENT)

    with pytest.raises(IdempotencyKeyReused):
        await world.services.booking.book(
            booking(idempotency_key=command.idempotency_key, start=SOON), THE_PATIENT, 1.0
        )


async def test_a_run_of_the_old_scheme_is_not_joined_by_anyone_else(world: World) -> None:
    same = key("old")
    anna = await legacy_booking(world, booking(idempotency_key=same), THE_PATIENT)

    ben = await booked(
        world,
        booking(patient_id=OTHER_PATIENT, start=SOON, idempotency_key=same),
        THE_OTHER_PATIENT,
    )

    assert ben.id != anna
    assert ben.patient_id == OTHER_PATIENT
    assert world.sagas.workflow_ids[-1] == booking_saga.workflow_id(
        THE_OTHER_PATIENT.principal.actor, same
    )


async def test_a_cancellation_started_under_the_old_scheme_is_joined_by_its_caller(
    world: World,
) -> None:
    appointment = await world.repository.plant(start=LATER)
    command = Cancel(appointment_id=appointment.id, idempotency_key=key("old"))
    request = CancellationRequest(
        appointment_id=appointment.id,
        reason=None,
        fingerprint=command.fingerprint(),
        caller=THE_PATIENT.context(),
    )
    legacy = cancellation.legacy_workflow_id(command.idempotency_key)
    await world.sagas.cancel(request, appointment, legacy, 1.0)
    commits = world.repository.commits

    again = await world.services.sagas.cancel(command, THE_PATIENT, 1.0)

    assert isinstance(again, Appointment)
    assert again.status is AppointmentStatus.CANCELLED
    assert world.repository.commits == commits
    assert world.sagas.workflow_ids[-1] == legacy


# --- who sees saga runs ----------------------------------------------------------------


async def runs_shown(
    world: World, appointment_id: str, pending_id: str, who: Requester
) -> set[str | None]:
    """Every saga run id ``who`` is shown of a stored appointment and of a booking still
    running: reading each, the list, the stored one's history."""
    read = await world.services.booking.read(appointment_id, who)
    pending = await world.services.booking.read(pending_id, who)
    listed = (await world.services.reads.page(ListAppointments(), who)).items
    events = (await world.services.reads.history(appointment_id, who, HistoryPage())).events
    assert isinstance(read, Appointment)
    assert isinstance(pending, PendingBooking)
    assert listed
    assert events
    return {
        read.booking_workflow_id,
        pending.workflow_id,
        *(a.booking_workflow_id for a in listed),
        *(e.context.workflow_id for e in events),
        *(e.context.run_id for e in events),
    }


async def test_saga_runs_are_shown_to_staff_and_admin_only(world: World) -> None:
    command = booking()
    appointment = await booked(world, command, THE_PATIENT)
    world.sagas.answer = "running"
    still = booking(start=SOON)
    running = await world.services.booking.book(still, THE_PATIENT, 1.0)
    assert isinstance(running, SagaRunning)

    # Neither in what the patient's booking answered, nor anywhere a patient or doctor reads.
    assert (appointment.booking_workflow_id, running.workflow_id) == (None, None)
    for who in (THE_PATIENT, THE_DOCTOR):
        assert await runs_shown(world, appointment.id, running.appointment_id, who) == {None}
    # Staff and admin see both runs.
    actor = THE_PATIENT.principal.actor
    runs = {
        booking_saga.workflow_id(actor, command.idempotency_key),
        booking_saga.workflow_id(actor, still.idempotency_key),
    }
    for who in (STAFF, ADMIN):
        assert runs <= await runs_shown(world, appointment.id, running.appointment_id, who)
    asked_by_staff = await world.services.booking.book(booking(start=SOON), STAFF, 1.0)
    assert isinstance(asked_by_staff, SagaRunning)
    assert asked_by_staff.workflow_id is not None


async def test_a_patient_cancelling_is_shown_no_saga_run(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    world.sagas.answer = "running"
    details = CancellationDetails(reason="feeling better")
    cancel = Cancel(appointment_id=appointment.id, cancellation=details, idempotency_key=key())

    running = await world.services.sagas.cancel(cancel, THE_PATIENT, 1.0)

    assert running == SagaRunning(appointment.id, None)
