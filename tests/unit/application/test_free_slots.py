"""A doctor's free slots on a clinic day (``Schedule.free_slots``): the doctor's grid, minus
what active appointments in the read view overlap (one from the day before too), minus
slots that have started; nothing on a day off. A doctor the Doctor Service does not know
is UnknownDoctor (404); the service being down passes through as PeerUnavailable."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from application.commands import FreeSlots
from application.errors import UnknownDoctor
from domain.errors import DoctorNotFound, InvalidScheduleWindow, PeerUnavailable
from domain.schedule import WorkingCalendar, WorkingInterval
from domain.status import AppointmentStatus
from tests.fakes import BERLIN, World
from tests.unit.application.support import DOCTOR, STAFF, THE_PATIENT

S = AppointmentStatus
TUESDAY = date(2030, 1, 8)  # Berlin is UTC+1: the on-call grid is 06:00Z-20:00Z
OPENS = datetime(2030, 1, 8, 6, 0, tzinfo=UTC)
GRID = [OPENS + timedelta(minutes=15 * i) for i in range(56)]  # 07:00-21:00 Berlin
# After midnight only: 00:00-02:00 Berlin, every day.
NIGHT = WorkingCalendar(
    "Dr. Night", BERLIN, 15, tuple(WorkingInterval(d, time(0), time(2)) for d in range(7))
)
WEEKDAYS = WorkingCalendar(
    "Dr. Weekday", BERLIN, 15, tuple(WorkingInterval(d, time(9), time(12)) for d in range(5))
)
NEW_YORK = WorkingCalendar(
    "Dr. Abroad",
    ZoneInfo("America/New_York"),
    15,
    tuple(WorkingInterval(d, time(7), time(21)) for d in range(7)),
)


async def starts(world: World, day: date = TUESDAY, doctor_id: str = DOCTOR) -> list[datetime]:
    slots = await world.services.schedule.free_slots(
        FreeSlots(doctor_id=doctor_id, day=day), THE_PATIENT
    )
    assert all(slot.end - slot.start == timedelta(minutes=15) for slot in slots)
    return [slot.start for slot in slots]


async def booked(
    world: World,
    start: datetime,
    minutes: int = 15,
    status: AppointmentStatus = S.SCHEDULED,
    doctor_id: str = DOCTOR,
) -> None:
    appointment = await world.repository.plant(
        start=start, duration_minutes=minutes, status=status, doctor_id=doctor_id
    )
    world.view.add(appointment)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, 8, hour, minute, tzinfo=UTC)


async def test_with_nothing_booked_the_whole_grid_is_free(world: World) -> None:
    assert await starts(world) == GRID


async def test_active_appointments_take_every_slot_they_overlap(world: World) -> None:
    await booked(world, at(8), minutes=30)  # two slots
    await booked(world, at(10, 5))  # off the grid: 10:00 and 10:15
    await booked(world, at(12), status=S.CHECKED_IN)
    await booked(world, at(13), status=S.PENDING)
    await booked(world, at(14), status=S.CONFIRMED)

    taken = set(GRID) - set(await starts(world))

    assert taken == {at(8), at(8, 15), at(10), at(10, 15), at(12), at(13), at(14)}


@pytest.mark.parametrize("status", [S.CANCELLED, S.FAILED, S.COMPLETED, S.NO_SHOW], ids=str)
async def test_what_holds_no_slot_leaves_it_free(world: World, status: AppointmentStatus) -> None:
    await booked(world, at(9), status=status)

    assert await starts(world) == GRID


async def test_another_doctors_appointments_leave_the_slots_free(world: World) -> None:
    await booked(world, at(9), doctor_id="doc-hart")

    assert await starts(world) == GRID


async def test_an_appointment_from_the_evening_before_takes_the_slots_it_reaches(
    world: World,
) -> None:
    world.calendars.calendars["doc-night"] = NIGHT
    # Monday 23:30 Berlin for an hour: until Tuesday 00:30.
    await booked(world, datetime(2030, 1, 7, 22, 30, tzinfo=UTC), 60, doctor_id="doc-night")

    free = await starts(world, doctor_id="doc-night")

    midnight = datetime(2030, 1, 7, 23, 0, tzinfo=UTC)  # Tuesday 00:00 Berlin
    assert free == [midnight + timedelta(minutes=15 * i) for i in range(2, 8)]


@pytest.mark.parametrize(
    ("now", "first"),
    [
        (at(5, 59), at(6)),
        (at(10), at(10, 15)),  # the 10:00 slot starts now: it has begun
        (at(10, 7), at(10, 15)),
        (at(19, 46), None),
    ],
    ids=["before opening", "at a slot's start", "within a slot", "after the last start"],
)
async def test_slots_that_have_started_are_left_out(
    world: World, now: datetime, first: datetime | None
) -> None:
    world.now = now

    free = await starts(world)

    assert free == [start for start in GRID if first is not None and start >= first]


async def test_a_day_that_has_passed_has_no_free_slots(world: World) -> None:
    world.now = at(12)

    assert await starts(world, TUESDAY - timedelta(days=1)) == []


async def test_a_day_off_has_no_slots(world: World) -> None:
    world.calendars.calendars["doc-weekday"] = WEEKDAYS

    assert await starts(world, date(2030, 1, 12), "doc-weekday") == []  # Saturday
    assert len(await starts(world, TUESDAY, "doc-weekday")) == 12  # 09:00-12:00


async def test_a_doctor_in_another_zone_is_asked_about_the_clinics_day(world: World) -> None:
    world.calendars.calendars["doc-abroad"] = NEW_YORK

    free = await starts(world, doctor_id="doc-abroad")

    # Tuesday in Berlin is Monday 23:00Z to Tuesday 23:00Z: the end of New York's Monday
    # (until 02:00Z) and most of its Tuesday (from 12:00Z).
    clinic_opens = datetime(2030, 1, 7, 23, 0, tzinfo=UTC)
    assert free == [clinic_opens + timedelta(minutes=15 * i) for i in range(12)] + [
        at(12) + timedelta(minutes=15 * i) for i in range(44)
    ]


async def test_an_unknown_doctor_is_the_missing_resource(world: World) -> None:
    with pytest.raises(UnknownDoctor, match="no doctor doc-nobody") as refused:
        await starts(world, doctor_id="doc-nobody")

    assert not isinstance(refused.value, DoctorNotFound)  # not a booking's 422
    assert refused.value.code == "doctor-not-found"


async def test_the_doctor_service_being_down_passes_through(world: World) -> None:
    world.calendars.down = True

    with pytest.raises(PeerUnavailable) as raised:
        await world.services.schedule.free_slots(FreeSlots(doctor_id=DOCTOR, day=TUESDAY), STAFF)

    assert raised.value.peer == "doctor"


@pytest.mark.parametrize("day", [date.min, date.max], ids=["first", "last"])
async def test_a_day_at_the_calendars_ends_is_refused(world: World, day: date) -> None:
    with pytest.raises(InvalidScheduleWindow, match="out of range"):
        await starts(world, day)
