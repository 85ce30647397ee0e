"""Reading the schedule from the read view (``Schedule``): a doctor's schedule and a
patient's appointments in [from, to) by start, every status but FAILED unless the caller
names statuses, a window checked after who may ask, and one appointment as the view has
it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from application.commands import DoctorSchedule, PatientAppointments
from application.permissions import Forbidden
from domain.errors import AppointmentNotFound, InvalidScheduleWindow
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import (
    DOCTOR,
    LATER,
    OTHER_DOCTOR,
    PATIENT,
    STAFF,
    THE_DOCTOR,
    THE_PATIENT,
)

S = AppointmentStatus
DAY = {"start_from": LATER, "start_to": LATER + timedelta(days=1)}


async def in_view(
    world: World,
    hours: float,
    status: AppointmentStatus = S.SCHEDULED,
    doctor_id: str = DOCTOR,
) -> Appointment:
    appointment = await world.repository.plant(
        start=LATER + timedelta(hours=hours), status=status, doctor_id=doctor_id
    )
    world.view.add(appointment, patient_name="Anna Schmidt")
    return appointment


def schedule(**window: datetime) -> DoctorSchedule:
    return DoctorSchedule(doctor_id=DOCTOR, **(DAY | window))


async def test_a_schedule_is_by_start_and_leaves_out_failed_bookings(world: World) -> None:
    late = await in_view(world, 3, S.CONFIRMED)
    early = await in_view(world, 1, S.CANCELLED)
    await in_view(world, 2, S.FAILED)
    await in_view(world, 1, doctor_id=OTHER_DOCTOR)

    rows = await world.services.schedule.doctor_schedule(schedule(), STAFF)

    assert [(row.id, row.status) for row in rows] == [
        (early.id, S.CANCELLED),
        (late.id, S.CONFIRMED),
    ]
    assert rows[0].patient_name == "Anna Schmidt"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([S.CONFIRMED], [S.CONFIRMED]),
        ([S.SCHEDULED, S.CANCELLED], [S.SCHEDULED, S.CANCELLED]),
        ([S.FAILED], []),
    ],
    ids=["one", "two", "failed is never in a schedule"],
)
async def test_statuses_narrow_the_schedule(
    world: World, statuses: list[AppointmentStatus], expected: list[AppointmentStatus]
) -> None:
    for hours, status in enumerate([S.SCHEDULED, S.CONFIRMED, S.CANCELLED, S.FAILED]):
        await in_view(world, hours, status)

    query = DoctorSchedule(doctor_id=DOCTOR, statuses=statuses, **DAY)
    rows = await world.services.schedule.doctor_schedule(query, THE_DOCTOR)

    assert [row.status for row in rows] == expected


async def test_the_window_is_half_open(world: World) -> None:
    at_from = await in_view(world, 0)
    await in_view(world, 24)  # at ``to``: not in it

    rows = await world.services.schedule.doctor_schedule(schedule(), STAFF)

    assert [row.id for row in rows] == [at_from.id]


@pytest.mark.parametrize(
    ("window", "detail"),
    [
        ({"start_to": LATER}, "from must be before to"),
        ({"start_to": LATER - timedelta(minutes=1)}, "from must be before to"),
        ({"start_to": LATER + timedelta(days=62, minutes=1)}, "at most 62 days"),
    ],
    ids=["empty", "inverted", "too wide"],
)
async def test_an_unusable_window_is_refused_by_both_schedules(
    world: World, window: dict[str, datetime], detail: str
) -> None:
    with pytest.raises(InvalidScheduleWindow, match=detail):
        await world.services.schedule.doctor_schedule(schedule(**window), STAFF)
    with pytest.raises(InvalidScheduleWindow, match=detail):
        await world.services.schedule.patient_appointments(
            PatientAppointments(patient_id=PATIENT, **(DAY | window)), STAFF
        )


async def test_who_may_ask_is_decided_before_the_window(world: World) -> None:
    inverted = schedule(start_to=LATER - timedelta(days=1))

    with pytest.raises(Forbidden):
        await world.services.schedule.doctor_schedule(inverted, THE_PATIENT)


async def test_a_patients_appointments_with_statuses(world: World) -> None:
    kept = await in_view(world, 1, S.CONFIRMED)
    await in_view(world, 2, S.CANCELLED)
    await in_view(world, 3, S.FAILED)

    every = await world.services.schedule.patient_appointments(
        PatientAppointments(patient_id=PATIENT, **DAY), THE_PATIENT
    )
    confirmed = await world.services.schedule.patient_appointments(
        PatientAppointments(patient_id=PATIENT, statuses=[S.CONFIRMED], **DAY), THE_PATIENT
    )

    assert [row.status for row in every] == [S.CONFIRMED, S.CANCELLED]
    assert [row.id for row in confirmed] == [kept.id]


async def test_one_appointment_as_the_view_has_it_in_any_status(world: World) -> None:
    failed = await in_view(world, 1, S.FAILED)

    row = await world.services.schedule.appointment(failed.id, THE_PATIENT)

    assert (row.id, row.status, row.start, row.end) == (
        failed.id,
        S.FAILED,
        failed.start,
        failed.end,
    )
    assert row.day == "2030-01-08"


async def test_one_the_view_has_not_caught_up_with_is_not_found(world: World) -> None:
    stored_only = await world.repository.plant(start=LATER)

    for appointment_id in (stored_only.id, str(uuid.uuid4())):
        with pytest.raises(AppointmentNotFound):
            await world.services.schedule.appointment(appointment_id, STAFF)
