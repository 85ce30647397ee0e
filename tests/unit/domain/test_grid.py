"""``domain.schedule.grid_slots``: the slots a doctor offers on one day, in wall-clock
time across daylight-saving changes, and each one a slot ``is_offered`` accepts.

(Here rather than beside ``tests/unit/domain/test_schedule.py`` only because the free
slots of the read view are what needs it; it is a pure domain function.)"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.schedule import WorkingInterval, grid_slots, is_offered

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, SUNDAY = 0, 6
SLOT = 30
HOURS = [
    WorkingInterval(MONDAY, time(9), time(12)),  # lunch break 12:00-13:00
    WorkingInterval(MONDAY, time(13), time(17)),
    WorkingInterval(SUNDAY, time(9), time(10)),
]
NIGHT = [WorkingInterval(SUNDAY, time(1), time(4))]  # across the 02:00/03:00 change

WINTER_MONDAY = date(2030, 1, 7)
SUMMER_MONDAY = date(2030, 7, 1)
SPRING_CHANGE = date(2030, 3, 31)  # clocks go 02:00 -> 03:00
AUTUMN_CHANGE = date(2030, 10, 27)  # clocks go 03:00 -> 02:00


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def starts(day: date, hours: list[WorkingInterval] = HOURS) -> list[datetime]:
    return [start for start, _ in grid_slots(day, hours, BERLIN, SLOT)]


def test_a_winter_day_in_utc() -> None:
    slots = grid_slots(WINTER_MONDAY, HOURS, BERLIN, SLOT)
    assert len(slots) == 6 + 8
    assert slots[0] == (utc(WINTER_MONDAY, 8), utc(WINTER_MONDAY, 8, 30))  # 09:00 CET
    assert slots[-1] == (utc(WINTER_MONDAY, 15, 30), utc(WINTER_MONDAY, 16))  # 16:30 CET
    assert utc(WINTER_MONDAY, 11) not in starts(WINTER_MONDAY)  # 12:00 CET: lunch


def test_a_summer_day_keeps_the_wall_clock() -> None:
    assert starts(SUMMER_MONDAY)[0] == utc(SUMMER_MONDAY, 7)  # 09:00 CEST


def test_a_day_without_working_hours_offers_nothing() -> None:
    assert grid_slots(date(2030, 1, 8), HOURS, BERLIN, SLOT) == []


@pytest.mark.parametrize(
    ("day", "first"),
    [(SPRING_CHANGE, 7), (AUTUMN_CHANGE, 8)],
    ids=["spring: 09:00 is 07:00Z", "autumn: 09:00 is 08:00Z"],
)
def test_on_the_change_days_nine_is_still_nine(day: date, first: int) -> None:
    assert starts(day) == [utc(day, first), utc(day, first, 30)]


def test_the_hour_that_does_not_exist_offers_nothing() -> None:
    # 01:00 and 01:30 CET, then 03:00 and 03:30 CEST: two real hours of work.
    day = SPRING_CHANGE
    assert starts(day, NIGHT) == [utc(day, 0), utc(day, 0, 30), utc(day, 1), utc(day, 1, 30)]


def test_the_hour_that_happens_twice_offers_both() -> None:
    # 01:00-04:00 wall clock is four real hours: 02:00 and 02:30 come twice. The slot
    # from the first 02:30 (CEST) to the second 02:00 (CET) ends before it starts on the
    # wall clock, and is_offered (what booking checks) refuses it, so it is not listed.
    slots = starts(AUTUMN_CHANGE, NIGHT)
    first = datetime.combine(AUTUMN_CHANGE - timedelta(days=1), time(23), tzinfo=UTC)
    every_half_hour = [first + timedelta(minutes=30 * i) for i in range(8)]
    assert slots == [s for s in every_half_hour if s != utc(AUTUMN_CHANGE, 0, 30)]


@pytest.mark.parametrize(
    "day", [WINTER_MONDAY, SUMMER_MONDAY, SPRING_CHANGE, AUTUMN_CHANGE], ids=str
)
@pytest.mark.parametrize("hours", [HOURS, NIGHT], ids=["day", "night"])
def test_every_grid_slot_is_offered_and_none_overlap(
    day: date, hours: list[WorkingInterval]
) -> None:
    slots = grid_slots(day, hours, BERLIN, SLOT)
    for start, end in slots:
        assert end - start == timedelta(minutes=SLOT)
        assert is_offered(start, end, hours, BERLIN, SLOT), start
    for (_, end), (start, _) in itertools.pairwise(slots):
        assert end <= start
