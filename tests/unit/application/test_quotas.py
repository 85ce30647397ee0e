"""What one caller may cost (``application/quotas.py``), at the use cases every door
calls: a rate of saga-starting requests per subject (book, cancel and reschedule draw on
one bucket), a cap on a patient's active upcoming appointments that staff and admin may
book over, and a bound on the Temporal look-ups a GET of an id not stored yet costs.

The World's clock is fixed at NOW, so a bucket refills only when a test moves it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from application.access import Requester
from application.commands import Book, Cancel, CancellationDetails, NewTime, Reschedule
from application.errors import PatientCapReached, TooManyRequests
from application.permissions import Forbidden, Role
from application.quotas import TokenBuckets, requested_event_ids
from application.results import PendingBooking, SagaRunning
from config import Settings
from domain.errors import AppointmentNotFound
from domain.events import EventContext
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World, plant_into
from tests.unit.application.support import (
    ADMIN,
    DOCTOR,
    EARLIER,
    LATER,
    NOW,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    SETTINGS,
    STAFF,
    THE_PATIENT,
    asking,
    booking,
    key,
)
from workflows.contracts.booking import legacy_workflow_id

S = AppointmentStatus
BURST = 3  # saga-starting requests one caller may make at once
RATE = 30.0  # per minute: one token every 2 s
CAP = 3  # active upcoming appointments per patient
LOOKUPS = 2  # look-ups of an id not stored yet, at once
WAIT = 1.0  # the wait budget: the fake sagas end at once


def quota_settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "saga_requests_per_minute": RATE,
        "saga_request_burst": BURST,
        "patient_max_active_appointments": CAP,
        "pending_lookup_burst": LOOKUPS,
    }
    return SETTINGS.model_copy(update=values | changes)


@pytest.fixture
def world() -> World:
    return World(settings=quota_settings(), now=NOW)


def slot(n: int, patient_id: str = PATIENT) -> Book:
    """A booking of the n-th quarter hour from LATER on (each a free slot)."""
    return booking(patient_id=patient_id, start=LATER + timedelta(minutes=15 * n))


def anyones(n: int) -> Book:
    """The n-th quarter hour from LATER on, for a patient of its own (no cap is near)."""
    return slot(n, patient_id=f"pat-{n}")


# --- the rate of saga-starting requests --------------------------------------------------


async def test_past_the_burst_a_booking_is_refused_with_the_wait_and_nothing_starts(
    world: World,
) -> None:
    for n in range(BURST):
        await world.services.booking.book(anyones(n), STAFF, WAIT)

    with pytest.raises(TooManyRequests) as refused:
        await world.services.booking.book(anyones(BURST), STAFF, WAIT)

    # 30 a minute: the next token is 2 s away.
    assert refused.value.retry_after_seconds == 2
    assert refused.value.code == "too-many-requests"
    assert len(world.sagas.requests) == BURST


async def cancel(world: World, appointment: Appointment, who: Requester) -> object:
    command = Cancel(
        appointment_id=appointment.id,
        cancellation=CancellationDetails(reason="ill"),
        idempotency_key=key("cancel"),
    )
    return await world.services.sagas.cancel(command, who, WAIT)


async def reschedule(world: World, appointment: Appointment, who: Requester) -> object:
    command = Reschedule(
        appointment_id=appointment.id,
        new_time=NewTime(start=appointment.start + timedelta(days=1)),
        idempotency_key=key("move"),
    )
    return await world.services.sagas.reschedule(command, who, WAIT)


async def book(world: World, appointment: Appointment, who: Requester) -> object:
    return await world.services.booking.book(anyones(20), who, WAIT)


SagaRequest = Callable[[World, Appointment, Requester], Awaitable[object]]


@pytest.mark.parametrize("last", [book, cancel, reschedule], ids=lambda f: f.__name__)
async def test_bookings_cancellations_and_reschedules_draw_on_one_bucket(
    world: World, last: SagaRequest
) -> None:
    planted = [
        await world.repository.plant(
            patient_id=OTHER_PATIENT, doctor_id=OTHER_DOCTOR, start=LATER + timedelta(hours=h)
        )
        for h in range(3)
    ]
    await world.services.booking.book(slot(0), STAFF, WAIT)
    await cancel(world, planted[0], STAFF)
    await reschedule(world, planted[1], STAFF)
    started = len(world.sagas.requests)

    with pytest.raises(TooManyRequests):
        await last(world, planted[2], STAFF)

    assert len(world.sagas.requests) == started == BURST
    assert world.repository.appointments[planted[2].id] == planted[2]


async def test_each_caller_has_a_bucket_of_its_own(world: World) -> None:
    for n in range(BURST):
        await world.services.booking.book(anyones(n), STAFF, WAIT)

    # Another desk, an admin, the patient: each still has its whole burst.
    for i, who in enumerate([asking(Role.STAFF, "frontdesk-2"), ADMIN, THE_PATIENT]):
        for n in range(BURST * (i + 1), BURST * (i + 2)):
            mine = slot(n) if who is THE_PATIENT else anyones(n)
            await world.services.booking.book(mine, who, WAIT)
    with pytest.raises(TooManyRequests):
        await world.services.booking.book(anyones(10), STAFF, WAIT)


async def test_the_bucket_refills_at_the_rate(world: World) -> None:
    for n in range(BURST):
        await world.services.booking.book(anyones(n), STAFF, WAIT)
    with pytest.raises(TooManyRequests):
        await world.services.booking.book(anyones(BURST), STAFF, WAIT)

    world.now = NOW + timedelta(seconds=2)  # one token
    await world.services.booking.book(anyones(BURST), STAFF, WAIT)
    with pytest.raises(TooManyRequests) as refused:
        await world.services.booking.book(anyones(BURST + 1), STAFF, WAIT)
    assert refused.value.retry_after_seconds == 2


async def test_a_request_refused_before_the_quota_costs_no_token(world: World) -> None:
    # A patient booking for someone else (403), as often as they like: no token taken.
    for _ in range(BURST + 2):
        with pytest.raises(Forbidden):
            await world.services.booking.book(booking(patient_id=OTHER_PATIENT), THE_PATIENT, WAIT)
    for n in range(BURST):
        await world.services.booking.book(slot(n), THE_PATIENT, WAIT)


def test_buckets_of_callers_who_stopped_asking_are_forgotten() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate_per_second=1.0, burst=2, clock=lambda: now[0])
    for caller in ("a", "b", "c"):
        assert buckets.take(caller) == 0.0
    assert len(buckets) == 3

    now[0] = 2.0  # full again: nothing to remember
    assert buckets.take("d") == 0.0
    assert len(buckets) == 1
    # A forgotten caller starts full, as it would have been.
    assert (buckets.take("a"), buckets.take("a"), buckets.take("a")) == (0.0, 0.0, 1.0)


# --- the patient's cap of active upcoming appointments -----------------------------------


async def at_the_cap(
    world: World, patient_id: str = PATIENT, doctor_id: str = OTHER_DOCTOR
) -> list[Appointment]:
    """CAP active upcoming appointments of the patient, of several active statuses."""
    statuses = [S.CONFIRMED, S.PENDING, S.CHECKED_IN]
    return [
        await world.repository.plant(
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=LATER + timedelta(days=1, hours=h),
            status=statuses[h % len(statuses)],
        )
        for h in range(CAP)
    ]


@pytest.mark.parametrize("who", [THE_PATIENT, STAFF], ids=["patient", "staff"])
async def test_at_the_cap_a_booking_is_refused_and_nothing_starts(
    world: World, who: Requester
) -> None:
    await at_the_cap(world)

    with pytest.raises(PatientCapReached) as refused:
        await world.services.booking.book(slot(0), who, WAIT)

    assert refused.value.code == "patient-cap-reached"
    assert f"already holds {CAP} active upcoming appointments" in refused.value.detail
    assert world.sagas.requests == []


async def test_only_the_patients_active_upcoming_appointments_count(world: World) -> None:
    active = await at_the_cap(world)
    # One of them cancelled: one under the cap, whatever else the patient or others hold.
    await cancel(world, active[0], STAFF)
    for n, status in enumerate([S.CANCELLED, S.COMPLETED, S.NO_SHOW, S.FAILED]):
        await world.repository.plant(start=LATER + timedelta(days=2, hours=n), status=status)
    await world.repository.plant(start=EARLIER, status=S.SCHEDULED)  # begun an hour ago
    await at_the_cap(world, patient_id=OTHER_PATIENT, doctor_id="doc-hart-2")

    booked = await world.services.booking.book(slot(0), THE_PATIENT, WAIT)

    assert isinstance(booked, Appointment)
    with pytest.raises(PatientCapReached):
        await world.services.booking.book(slot(1), THE_PATIENT, WAIT)


async def test_the_cap_comes_from_the_settings() -> None:
    world = World(settings=quota_settings(patient_max_active_appointments=CAP + 1), now=NOW)
    await at_the_cap(world)
    await world.services.booking.book(slot(0), THE_PATIENT, WAIT)
    with pytest.raises(PatientCapReached):
        await world.services.booking.book(slot(1), THE_PATIENT, WAIT)


def over_the_cap(command: Book) -> Book:
    new = command.appointment.model_copy(update={"over_patient_cap": True})
    return command.model_copy(update={"appointment": new})


@pytest.mark.parametrize("who", [STAFF, ADMIN], ids=["staff", "admin"])
async def test_staff_and_admin_may_book_over_the_cap_and_the_saga_is_told(
    world: World, who: Requester
) -> None:
    await at_the_cap(world)

    booked = await world.services.booking.book(over_the_cap(slot(0)), who, WAIT)

    assert isinstance(booked, Appointment)
    [request] = world.sagas.requests
    assert request.over_patient_cap is True  # the saga's appointment.requested says so


async def test_under_the_cap_the_override_is_not_recorded(world: World) -> None:
    await world.services.booking.book(over_the_cap(slot(0)), STAFF, WAIT)
    [request] = world.sagas.requests
    assert request.over_patient_cap is False


async def test_a_patient_may_not_book_over_the_cap(world: World) -> None:
    with pytest.raises(Forbidden, match="only staff and admin"):
        await world.services.booking.book(over_the_cap(slot(0)), THE_PATIENT, WAIT)
    assert world.sagas.requests == []


async def test_a_retry_of_the_booking_that_reached_the_cap_answers_that_booking(
    world: World,
) -> None:
    active = await at_the_cap(world)
    await cancel(world, active[0], STAFF)
    command = slot(0)
    first = await world.services.booking.book(command, THE_PATIENT, WAIT)
    assert isinstance(first, Appointment)

    # At the cap again, by this very booking: its retry is answered, not refused.
    again = await world.services.booking.book(command, THE_PATIENT, WAIT)

    assert again == first
    ids = requested_event_ids(THE_PATIENT.principal.actor, command.idempotency_key)
    assert [await world.repository.event(i) is not None for i in ids] == [True, False]
    with pytest.raises(PatientCapReached):
        await world.services.booking.book(slot(1), THE_PATIENT, WAIT)


# --- GETs of an id not stored yet ---------------------------------------------------------


async def running_booking(world: World) -> str:
    world.sagas.answer = "running"
    answer = await world.services.booking.book(slot(0), STAFF, WAIT)
    assert isinstance(answer, SagaRunning)
    world.sagas.answer = None
    return answer.appointment_id


async def test_a_caller_looks_up_bookings_not_stored_yet_within_its_quota(world: World) -> None:
    appointment_id = await running_booking(world)
    for _ in range(LOOKUPS):
        assert isinstance(await world.services.booking.read(appointment_id, STAFF), PendingBooking)

    # Past the quota the id reads as missing, as an unknown one does: Temporal is not asked.
    with pytest.raises(AppointmentNotFound):
        await world.services.booking.read(appointment_id, STAFF)
    # Another caller's quota is its own.
    assert isinstance(await world.services.booking.read(appointment_id, ADMIN), PendingBooking)
    # And it refills at its rate (60 a minute by default: one a second).
    world.now = NOW + timedelta(seconds=1)
    assert isinstance(await world.services.booking.read(appointment_id, STAFF), PendingBooking)


async def test_reading_stored_appointments_costs_no_look_up(world: World) -> None:
    stored = await world.repository.plant(start=LATER)
    appointment_id = await running_booking(world)
    for _ in range(LOOKUPS + 3):
        assert await world.services.booking.read(stored.id, STAFF) == stored

    assert isinstance(await world.services.booking.read(appointment_id, STAFF), PendingBooking)


async def test_an_id_no_booking_makes_is_never_looked_up(world: World) -> None:
    appointment_id = await running_booking(world)
    not_an_id = "booking-of-someone"
    world.sagas.pending[not_an_id] = world.sagas.pending[appointment_id]
    for _ in range(LOOKUPS + 1):
        with pytest.raises(AppointmentNotFound):
            await world.services.booking.read(not_an_id, STAFF)

    # Those cost nothing: the quota is whole.
    for _ in range(LOOKUPS):
        assert isinstance(await world.services.booking.read(appointment_id, STAFF), PendingBooking)


@pytest.mark.parametrize(
    ("actor", "refused"),
    [("patient:pat-anna-schmidt", False), ("staff:frontdesk-1", True)],
    ids=["its caller", "another caller"],
)
async def test_a_booking_from_before_keys_were_scoped_counts_as_its_callers_only(
    world: World, actor: str, refused: bool
) -> None:
    # The cap reached by a booking whose run was named by the key alone (booking-<key>).
    await at_the_cap(world)
    command = slot(0)
    await plant_into(
        world.repository.commit,
        patient_id=PATIENT,
        doctor_id=DOCTOR,
        start=LATER + timedelta(days=3),
        workflow_id=legacy_workflow_id(command.idempotency_key),
        context=EventContext(actor=actor),
    )
    quotas, now = world.quotas, world.clock()

    if refused:  # the key is the patient's own: someone else's old run is not their retry
        with pytest.raises(PatientCapReached):
            await quotas.over_patient_cap(world.repository, command, THE_PATIENT, now)
    else:  # a retry of the patient's own booking: the saga answers what it did
        assert await quotas.over_patient_cap(world.repository, command, THE_PATIENT, now) is False
