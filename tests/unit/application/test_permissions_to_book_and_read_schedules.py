"""The permission matrix where the request names whom it is about: booking (a patient books
only for themself, a doctor never), a doctor's schedule (a doctor only their own, a
patient never), a patient's appointments (a doctor sees only those with them) and free
slots (anyone). Naming the person is the caller's own claim, so a refusal is a 403 that
reveals nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from application.access import Requester
from application.commands import DoctorSchedule, FreeSlots, PatientAppointments
from application.permissions import Forbidden, Role
from application.results import SagaRunning
from application.services import Services
from domain.errors import InvalidAppointment
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import (
    ADMIN,
    DOCTOR,
    LATER,
    NOW,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    STAFF,
    THE_DOCTOR,
    THE_PATIENT,
    asking,
    booking,
)

WEEK = {"start_from": NOW, "start_to": NOW + timedelta(days=7)}
EVERYONE = [ADMIN, STAFF, THE_DOCTOR, THE_PATIENT]


def role_of(who: Requester) -> str:
    return who.principal.role.value


async def planted(world: World, patient_id: str, doctor_id: str, hours: int) -> Appointment:
    appointment = await world.repository.plant(
        patient_id=patient_id, doctor_id=doctor_id, start=LATER + timedelta(hours=hours)
    )
    world.view.add(appointment)
    return appointment


# --- booking -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", [ADMIN, STAFF], ids=role_of)
async def test_admin_and_staff_book_for_any_patient(world: World, who: Requester) -> None:
    booked = await world.services.booking.book(booking(patient_id=OTHER_PATIENT), who, 1.0)

    assert isinstance(booked, Appointment)
    assert booked.patient_id == OTHER_PATIENT
    assert booked.status is AppointmentStatus.SCHEDULED


async def test_a_patient_books_for_themself(world: World) -> None:
    booked = await world.services.booking.book(booking(patient_id=PATIENT), THE_PATIENT, 1.0)

    assert not isinstance(booked, SagaRunning)
    assert (booked.patient_id, booked.status) == (PATIENT, AppointmentStatus.SCHEDULED)


async def test_a_patient_may_not_book_for_another_patient(world: World) -> None:
    with pytest.raises(Forbidden, match="only book appointments for themself"):
        await world.services.booking.book(booking(patient_id=OTHER_PATIENT), THE_PATIENT, 1.0)

    assert world.sagas.requests == []
    assert world.repository.appointments == {}


@pytest.mark.parametrize("patient_id", [PATIENT, OTHER_PATIENT])
async def test_a_doctor_may_not_book_at_all(world: World, patient_id: str) -> None:
    with pytest.raises(Forbidden, match="a doctor may not book"):
        await world.services.booking.book(booking(patient_id=patient_id), THE_DOCTOR, 1.0)

    assert world.sagas.requests == []


async def test_who_may_book_is_decided_before_the_time_rules(world: World) -> None:
    in_the_past = booking(patient_id=OTHER_PATIENT, start=NOW - timedelta(days=1))

    with pytest.raises(Forbidden):
        await world.services.booking.book(in_the_past, THE_PATIENT, 1.0)
    with pytest.raises(InvalidAppointment):
        await world.services.booking.book(in_the_past, STAFF, 1.0)
    assert world.sagas.requests == []


# --- a doctor's schedule -----------------------------------------------------------------


@pytest.mark.parametrize("who", [ADMIN, STAFF, THE_DOCTOR], ids=role_of)
async def test_admin_staff_and_the_doctor_read_the_doctors_schedule(
    world: World, who: Requester
) -> None:
    mine = await planted(world, PATIENT, DOCTOR, 0)
    await planted(world, OTHER_PATIENT, OTHER_DOCTOR, 0)

    rows = await world.services.schedule.doctor_schedule(
        DoctorSchedule(doctor_id=DOCTOR, **WEEK), who
    )

    assert [row.id for row in rows] == [mine.id]


# --- a patient's appointments ------------------------------------------------------------


@pytest.mark.parametrize("who", [ADMIN, STAFF, THE_PATIENT], ids=role_of)
async def test_admin_staff_and_the_patient_see_all_of_the_patients_appointments(
    world: World, who: Requester
) -> None:
    with_this_doctor = await planted(world, PATIENT, DOCTOR, 0)
    with_another = await planted(world, PATIENT, OTHER_DOCTOR, 1)
    await planted(world, OTHER_PATIENT, DOCTOR, 2)

    rows = await world.services.schedule.patient_appointments(
        PatientAppointments(patient_id=PATIENT, **WEEK), who
    )

    assert [row.id for row in rows] == [with_this_doctor.id, with_another.id]


async def test_a_doctor_sees_only_the_patients_appointments_with_them(world: World) -> None:
    with_me = await planted(world, PATIENT, DOCTOR, 0)
    await planted(world, PATIENT, OTHER_DOCTOR, 1)

    rows = await world.services.schedule.patient_appointments(
        PatientAppointments(patient_id=PATIENT, **WEEK), THE_DOCTOR
    )

    assert [row.id for row in rows] == [with_me.id]


# --- what is refused: naming someone else --------------------------------------------

Read = Callable[[Services, Requester], Awaitable[object]]


def schedule_of(doctor_id: str) -> Read:
    return lambda services, who: services.schedule.doctor_schedule(
        DoctorSchedule(doctor_id=doctor_id, **WEEK), who
    )


def appointments_of(patient_id: str) -> Read:
    return lambda services, who: services.schedule.patient_appointments(
        PatientAppointments(patient_id=patient_id, **WEEK), who
    )


@pytest.mark.parametrize(
    ("read", "who", "why"),
    [
        (schedule_of(OTHER_DOCTOR), THE_DOCTOR, "only read their own schedule"),
        (schedule_of(DOCTOR), THE_PATIENT, "a patient may not read doctors' schedules"),
        (appointments_of(OTHER_PATIENT), THE_PATIENT, "only list their own"),
    ],
    ids=[
        "a doctor, another doctor's schedule",
        "a patient, a schedule, not even their own doctor's",
        "a patient, another patient's appointments",
    ],
)
async def test_a_read_naming_someone_else_is_forbidden(
    world: World, read: Read, who: Requester, why: str
) -> None:
    await planted(world, PATIENT, DOCTOR, 0)
    await planted(world, OTHER_PATIENT, OTHER_DOCTOR, 1)

    with pytest.raises(Forbidden, match=why):
        await read(world.services, who)


# --- free slots --------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE, ids=role_of)
async def test_anyone_sees_a_doctors_free_slots(world: World, who: Requester) -> None:
    query = FreeSlots(doctor_id=DOCTOR, day=LATER.date())

    slots = await world.services.schedule.free_slots(query, who)

    everyone_sees = await world.services.schedule.free_slots(query, asking(Role.ADMIN))
    assert slots == everyone_sees
    assert len(slots) == 14 * 4  # 07:00-21:00 on a 15-minute grid, nothing booked
