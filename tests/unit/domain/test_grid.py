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
    # wall clock, but lasts its 30 real minutes: it is offered like every other.
    slots = starts(AUTUMN_CHANGE, NIGHT)
    first = datetime.combine(AUTUMN_CHANGE - timedelta(days=1), time(23), tzinfo=UTC)
    assert slots == [first + timedelta(minutes=30 * i) for i in range(8)]


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


# --- a whole day: working hours 00:00-00:00 (the around-the-clock doctor) --------------

WHOLE_DAY = [WorkingInterval(weekday, time(0), time(0)) for weekday in range(7)]


@pytest.mark.parametrize(
    ("day", "hours"),
    [(WINTER_MONDAY, 24), (SUMMER_MONDAY, 24), (SPRING_CHANGE, 23), (AUTUMN_CHANGE, 25)],
    ids=str,
)
def test_a_whole_day_offers_every_quarter_hour_to_midnight(day: date, hours: int) -> None:
    slots = grid_slots(day, WHOLE_DAY, BERLIN, 15)
    midnight = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN)
    assert len(slots) == hours * 4
    assert slots[0][0] == midnight
    assert slots[-1][1] == next_midnight.astimezone(UTC)  # 23:45-00:00 included
    for (_, end), (start, _) in itertools.pairwise(slots):
        assert end == start  # no gap, even where the clocks change
    for start, end in slots:
        assert end - start == timedelta(minutes=15)
        assert is_offered(start, end, WHOLE_DAY, BERLIN, 15), start


def test_the_last_quarter_hour_is_offered_and_midnight_is_not_crossed() -> None:
    last = datetime.combine(WINTER_MONDAY, time(23, 45), tzinfo=BERLIN)
    assert is_offered(last, last + timedelta(minutes=15), WHOLE_DAY, BERLIN, 15)
    # Working hours never cross midnight: 23:45-00:15 lies in two days' hours.
    assert not is_offered(last, last + timedelta(minutes=30), WHOLE_DAY, BERLIN, 15)
    # An end of 00:00 is the day's end only where it is an end: hours 00:00-01:00 stay one hour.
    one_hour = [WorkingInterval(MONDAY, time(0), time(1))]
    assert len(grid_slots(WINTER_MONDAY, one_hour, BERLIN, 15)) == 4
