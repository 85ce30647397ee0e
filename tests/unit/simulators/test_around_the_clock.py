"""The around-the-clock doctor of the simulators' seed (``doc-around-the-clock``): every
quarter hour of every day is a slot, 23:45-00:00 and the days the clocks change included,
and the service's own calendar (``domain.schedule``) offers exactly the same slots."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest

from peers.contracts import Availability
from simulators.seed_data import AROUND_THE_CLOCK_DOCTOR_ID, DOCTORS
from tests.unit.simulators.test_doctor import availability, hold, problem

DOCTOR = next(d for d in DOCTORS if d.id == AROUND_THE_CLOCK_DOCTOR_ID)
BERLIN = DOCTOR.calendar().zone


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BERLIN)


async def day_of(api: httpx.AsyncClient, day: date) -> Availability:
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    return await availability(api, DOCTOR.id, start.isoformat(), end.isoformat())


def test_it_works_all_day_every_day_on_a_15_minute_grid() -> None:
    assert DOCTOR.slot_minutes == 15
    assert sorted(h.weekday for h in DOCTOR.working_hours) == list(range(7))


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2030, 1, 5), 24),  # a winter Saturday
        (date(2030, 7, 3), 24),  # a summer Wednesday
        (date(2030, 3, 31), 23),  # the spring change
        (date(2030, 10, 27), 25),  # the autumn change
    ],
    ids=str,
)
async def test_every_quarter_hour_of_the_day_is_free(
    doctor_api: httpx.AsyncClient, day: date, hours: int
) -> None:
    slots = (await day_of(doctor_api, day)).slots
    assert len(slots) == hours * 4
    assert slots[0].start == local_midnight(day).astimezone(UTC)
    assert slots[-1].end == local_midnight(day + timedelta(days=1)).astimezone(UTC)
    for earlier, later in itertools.pairwise(slots):
        assert earlier.end == later.start
    # The service's calendar lists the same slots and would book each of them.
    calendar = DOCTOR.calendar()
    assert [(s.start, s.end) for s in slots] == calendar.slots_on(day)
    assert all(calendar.offers(s.start, s.end) for s in slots)


async def test_the_last_quarter_hour_before_midnight_can_be_held(
    doctor_api: httpx.AsyncClient,
) -> None:
    last = local_midnight(date(2030, 1, 7)) + timedelta(hours=23, minutes=45)
    answer = await hold(doctor_api, last.isoformat(), "late", minutes=15, doctor=DOCTOR.id)
    assert answer.status_code == 201, answer.text
    # Working hours never cross midnight: 23:45-00:15 lies in two days' hours.
    across = await hold(doctor_api, last.isoformat(), "across", minutes=30, doctor=DOCTOR.id)
    assert problem(across, 422) == "slot-not-offered"
