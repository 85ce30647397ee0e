"""Cancelling and rescheduling (``SagaChanges``): what the saga is asked, what the caller
is answered once it ended, while it still runs, and when it refused or failed. A refusal
leaves the appointment as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.commands import Cancel, CancellationDetails, NewTime, Reschedule
from application.errors import SagaCancelled, SagaFailed
from application.results import SagaRunning
from domain.errors import (
    AppointmentStarted,
    BillingRefused,
    ConcurrencyConflict,
    IllegalTransition,
    InvalidAppointment,
    PeerUnavailable,
    SlotUnavailable,
)
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import NOW, OTHER_PATIENT, STAFF, THE_PATIENT, asking, key
from workflows.contracts import cancellation, reschedule
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.reschedule import RescheduleRequest

S = AppointmentStatus
START = NOW + timedelta(days=2)
NEW_START = START + timedelta(hours=3)


def cancel(appointment: Appointment, reason: str | None = None, k: str | None = None) -> Cancel:
    return Cancel(
        appointment_id=appointment.id,
        cancellation=CancellationDetails(reason=reason),
        idempotency_key=k or key("cancel"),
    )


def move(appointment: Appointment, minutes: int | None = None, k: str | None = None) -> Reschedule:
    return Reschedule(
        appointment_id=appointment.id,
        new_time=NewTime(start=NEW_START, duration_minutes=minutes, reason="clash"),
        idempotency_key=k or key("move"),
    )


async def test_a_cancellation_cancels_and_records_who_and_why(world: World) -> None:
    appointment = await world.repository.plant(start=START)

    cancelled = await world.services.sagas.cancel(
        cancel(appointment, "flu"), asking(THE_PATIENT.principal.role, request_id="r-2"), 1.0
    )

    assert isinstance(cancelled, Appointment)
    assert (cancelled.id, cancelled.status) == (appointment.id, S.CANCELLED)
    [request] = world.sagas.requests
    assert isinstance(request, CancellationRequest)
    assert (request.appointment_id, request.reason) == (appointment.id, "flu")
    assert (request.caller.actor, request.caller.request_id) == ("patient:pat-anna-schmidt", "r-2")
    event = (await world.repository.history(appointment.id))[-1]
    assert (event.context.actor, event.context.reason) == ("patient:pat-anna-schmidt", "flu")


@pytest.mark.parametrize("status", [S.SCHEDULED, S.CONFIRMED], ids=str)
async def test_a_reschedule_moves_the_same_appointment_and_schedules_it_again(
    world: World, status: AppointmentStatus
) -> None:
    appointment = await world.repository.plant(start=START, status=status)

    moved = await world.services.sagas.reschedule(move(appointment), STAFF, 1.0)

    assert isinstance(moved, Appointment)
    assert (moved.id, moved.status, moved.start) == (appointment.id, S.SCHEDULED, NEW_START)
    assert moved.duration_minutes == appointment.duration_minutes
    [request] = world.sagas.requests
    assert isinstance(request, RescheduleRequest)
    assert (request.start, request.duration_minutes, request.reason) == (NEW_START, None, "clash")


async def test_a_reschedule_may_change_the_length(world: World) -> None:
    appointment = await world.repository.plant(start=START)

    moved = await world.services.sagas.reschedule(move(appointment, 30), STAFF, 1.0)

    assert not isinstance(moved, SagaRunning)
    assert (moved.start, moved.duration_minutes) == (NEW_START, 30)


@pytest.mark.parametrize("status", [S.CANCELLED, S.COMPLETED, S.NO_SHOW, S.FAILED], ids=str)
async def test_what_has_ended_is_neither_cancelled_nor_moved(
    world: World, status: AppointmentStatus
) -> None:
    appointment = await world.repository.plant(start=NOW - timedelta(hours=1), status=status)

    with pytest.raises(IllegalTransition, match=f"{status.value} cannot become CANCELLED"):
        await world.services.sagas.cancel(cancel(appointment), STAFF, 1.0)
    with pytest.raises(IllegalTransition, match=f"{status.value} cannot become rescheduled"):
        await world.services.sagas.reschedule(move(appointment), STAFF, 1.0)

    assert world.repository.appointments[appointment.id] == appointment


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED, S.CHECKED_IN, S.PENDING], ids=str)
async def test_what_the_stored_status_refuses_starts_no_run(
    world: World, status: AppointmentStatus
) -> None:
    """The stored appointment already decides: 409 at once, and no saga run that would
    only end refused (a run in the Temporal Web UI for every such request)."""
    appointment = await world.repository.plant(start=START, status=status)

    with pytest.raises(IllegalTransition):
        await world.services.sagas.cancel(cancel(appointment), STAFF, 1.0)
    with pytest.raises(IllegalTransition):
        await world.services.sagas.reschedule(move(appointment), STAFF, 1.0)

    assert world.sagas.requests == [], "no run started"


async def test_an_appointment_that_has_started_is_refused_without_a_run(world: World) -> None:
    appointment = await world.repository.plant(start=NOW - timedelta(minutes=5))

    with pytest.raises(AppointmentStarted, match="can no longer be cancelled"):
        await world.services.sagas.cancel(cancel(appointment), STAFF, 1.0)
    with pytest.raises(AppointmentStarted, match="can no longer be rescheduled"):
        await world.services.sagas.reschedule(move(appointment), STAFF, 1.0)

    assert world.sagas.requests == [], "no run started"


async def test_a_retried_cancellation_joins_its_run_though_the_state_now_refuses(
    world: World,
) -> None:
    """The key's run cancelled the appointment: a retry is answered from that run (the
    cancelled appointment), not refused by the CANCELLED status it left."""
    appointment = await world.repository.plant(start=START)
    command = cancel(appointment, k=key("once"))
    await world.services.sagas.cancel(command, STAFF, 1.0)

    again = await world.services.sagas.cancel(command, STAFF, 1.0)

    assert isinstance(again, Appointment)
    assert again.status == S.CANCELLED
    assert len(set(world.sagas.workflow_ids)) == 1


@pytest.mark.parametrize(
    ("start", "minutes", "detail"),
    [
        (NOW - timedelta(hours=1), None, "in the future"),
        (NOW + timedelta(days=366), None, "within 365 days"),
        (NEW_START + timedelta(minutes=2), None, "5-minute boundary"),
        (NEW_START, 240, "between 10 and 120"),
    ],
    ids=["past", "too far", "off the grid", "too long"],
)
async def test_a_new_time_the_rules_refuse_moves_nothing(
    world: World, start: object, minutes: int | None, detail: str
) -> None:
    appointment = await world.repository.plant(start=START)
    command = Reschedule(
        appointment_id=appointment.id,
        new_time=NewTime.model_validate({"start": start, "duration_minutes": minutes}),
        idempotency_key=key("move"),
    )

    with pytest.raises(InvalidAppointment, match=detail):
        await world.services.sagas.reschedule(command, STAFF, 1.0)

    assert world.repository.appointments[appointment.id] == appointment


async def test_a_move_onto_a_taken_slot_leaves_the_original_intact(world: World) -> None:
    appointment = await world.repository.plant(start=START)
    await world.repository.plant(start=NEW_START, patient_id=OTHER_PATIENT)

    with pytest.raises(SlotUnavailable):
        await world.services.sagas.reschedule(move(appointment), STAFF, 1.0)

    assert world.repository.appointments[appointment.id] == appointment


async def test_a_move_that_overlaps_only_itself_is_fine(world: World) -> None:
    appointment = await world.repository.plant(start=START, duration_minutes=30)
    command = Reschedule(
        appointment_id=appointment.id,
        new_time=NewTime(start=START + timedelta(minutes=15)),
        idempotency_key=key("move"),
    )

    moved = await world.services.sagas.reschedule(command, STAFF, 1.0)

    assert not isinstance(moved, SagaRunning)
    assert moved.start == START + timedelta(minutes=15)


@pytest.mark.parametrize("wait", [0.0, 10.0], ids=["respond-async", "outlasts the wait"])
async def test_a_saga_still_running_answers_its_run_and_changes_nothing_yet(
    world: World, wait: float
) -> None:
    appointment = await world.repository.plant(start=START)
    world.sagas.answer = "running" if wait else None
    used = key("slow")

    running = await world.services.sagas.cancel(cancel(appointment, k=used), STAFF, wait)

    actor = STAFF.principal.actor
    assert running == SagaRunning(appointment.id, cancellation.workflow_id(actor, used))
    assert world.repository.appointments[appointment.id] == appointment
    moving = await world.services.sagas.reschedule(move(appointment, k=used), STAFF, wait)
    assert moving == SagaRunning(appointment.id, reschedule.workflow_id(actor, used))


@pytest.mark.parametrize(
    "failure",
    [
        SagaFailed("cancellation"),
        SagaCancelled("cancellation"),
        BillingRefused("the late fee was declined"),
        ConcurrencyConflict("changed meanwhile"),
        PeerUnavailable("billing", "HTTP 503"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_failing_saga_raises_the_error_it_raised(world: World, failure: Exception) -> None:
    appointment = await world.repository.plant(start=START)
    world.sagas.answer = failure

    with pytest.raises(type(failure)) as raised:
        await world.services.sagas.cancel(cancel(appointment), STAFF, 1.0)
    assert raised.value is failure
    with pytest.raises(type(failure)):
        await world.services.sagas.reschedule(move(appointment), STAFF, 1.0)

    assert world.repository.appointments[appointment.id] == appointment
