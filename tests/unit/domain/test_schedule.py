"""A doctor's offered slots in wall-clock time, and whether free slots cover a request."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.schedule import WorkingInterval, covers, is_offered

BERLIN = ZoneInfo("Europe/Berlin")
SLOT = 30
MONDAY, SUNDAY = 0, 6

HOURS = [
    # Monday with a lunch break from 12:00 to 13:00.
    WorkingInterval(MONDAY, time(9, 0), time(12, 0)),
    WorkingInterval(MONDAY, time(13, 0), time(17, 0)),
    # A short Sunday shift, so the daylight-saving Sundays have something to offer.
    WorkingInterval(SUNDAY, time(9, 0), time(10, 0)),
]


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def offered(start: datetime, minutes: int = SLOT) -> bool:
    return is_offered(start, start + timedelta(minutes=minutes), HOURS, BERLIN, SLOT)


# 2030-01-07 is a Monday in winter (CET, UTC+1).
@pytest.mark.parametrize(
    ("hour", "minute", "minutes"),
    [(9, 0, 30), (9, 30, 30), (11, 30, 30), (9, 0, 180), (13, 0, 30), (16, 30, 30), (13, 0, 240)],
)
def test_slots_inside_working_hours_on_the_grid_are_offered(
    hour: int, minute: int, minutes: int
) -> None:
    assert offered(berlin(2030, 1, 7, hour, minute), minutes)


def test_the_request_may_arrive_in_utc() -> None:
    # 08:00Z is 09:00 in Berlin in winter.
    assert offered(utc(2030, 1, 7, 8, 0))
    assert not offered(utc(2030, 1, 7, 7, 30))


@pytest.mark.parametrize(("hour", "minute"), [(12, 0), (12, 30)], ids=["12:00", "12:30"])
def test_lunch_break_is_not_offered(hour: int, minute: int) -> None:
    assert not offered(berlin(2030, 1, 7, hour, minute))


def test_a_slot_crossing_into_the_lunch_break_is_not_offered() -> None:
    assert not offered(berlin(2030, 1, 7, 11, 30), 60)


def test_a_slot_spanning_the_whole_lunch_break_is_not_offered() -> None:
    # Both halves are working hours, but no single interval holds the slot.
    assert not offered(berlin(2030, 1, 7, 11, 30), 120)


@pytest.mark.parametrize(
    ("hour", "minute", "minutes"),
    [(16, 30, 60), (17, 0, 30), (8, 30, 30), (8, 30, 60)],
    ids=["crosses-close", "after-close", "before-open", "crosses-open"],
)
def test_outside_or_crossing_the_end_of_hours_is_not_offered(
    hour: int, minute: int, minutes: int
) -> None:
    assert not offered(berlin(2030, 1, 7, hour, minute), minutes)


@pytest.mark.parametrize("day", [8, 9, 10, 11, 12], ids=["tue", "wed", "thu", "fri", "sat"])
def test_a_weekday_without_hours_is_not_offered(day: int) -> None:
    assert not offered(berlin(2030, 1, day, 9, 0))


def test_the_weekday_is_the_clinics_not_utcs() -> None:
    # Monday 00:30 in Berlin is still Sunday 23:30 in UTC: the Berlin day decides.
    late_hours = [WorkingInterval(MONDAY, time(0, 0), time(2, 0))]
    start = utc(2030, 1, 6, 23, 30)
    assert is_offered(start, start + timedelta(minutes=SLOT), late_hours, BERLIN, SLOT)


@pytest.mark.parametrize(
    ("minute", "minutes"),
    [(10, 30), (15, 30), (45, 30), (0, 45), (0, 20)],
    ids=["start-09:10", "start-09:15", "start-09:45", "45-minutes", "20-minutes"],
)
def test_off_the_grid_is_not_offered(minute: int, minutes: int) -> None:
    assert not offered(berlin(2030, 1, 7, 9, minute), minutes)


@pytest.mark.parametrize("minutes", [0, -30])
def test_an_empty_or_reversed_range_is_not_offered(minutes: int) -> None:
    assert not offered(berlin(2030, 1, 7, 10, 0), minutes)


def test_the_grid_runs_from_each_intervals_own_start() -> None:
    hours = [WorkingInterval(MONDAY, time(9, 15), time(11, 15))]
    start = berlin(2030, 1, 7, 9, 45)
    assert is_offered(start, start + timedelta(minutes=30), hours, BERLIN, 30)
    start = berlin(2030, 1, 7, 10, 0)
    assert not is_offered(start, start + timedelta(minutes=30), hours, BERLIN, 30)


# Daylight saving in Europe/Berlin: on Sunday 2026-03-29 clocks jump from 02:00 CET to
# 03:00 CEST; on Sunday 2026-10-25 they fall back from 03:00 CEST to 02:00 CET. The
# 09:00 slot stays at 09:00 local time, so its UTC instant moves by an hour.
@pytest.mark.parametrize(
    ("offered_utc", "not_offered_utc"),
    [
        (utc(2026, 3, 22, 8), utc(2026, 3, 22, 7)),  # the Sunday before: CET, 09:00 = 08:00Z
        (utc(2026, 3, 29, 7), utc(2026, 3, 29, 8)),  # spring forward: CEST, 09:00 = 07:00Z
        (utc(2026, 10, 18, 7), utc(2026, 10, 18, 8)),  # the Sunday before: CEST
        (utc(2026, 10, 25, 8), utc(2026, 10, 25, 7)),  # fall back: CET, 09:00 = 08:00Z
    ],
    ids=["2026-03-22", "2026-03-29", "2026-10-18", "2026-10-25"],
)
def test_daylight_saving_change_days(offered_utc: datetime, not_offered_utc: datetime) -> None:
    assert offered(offered_utc)
    assert offered(offered_utc + timedelta(minutes=SLOT))
    # One hour off is 08:00 or 10:00 local: outside the 09:00-10:00 shift.
    assert not offered(not_offered_utc)


def test_local_wall_clock_input_on_the_spring_forward_day() -> None:
    assert offered(berlin(2026, 3, 29, 9, 0))
    assert offered(berlin(2026, 3, 29, 9, 30))
    assert not offered(berlin(2026, 3, 29, 10, 0))


def test_local_wall_clock_input_on_the_fall_back_day() -> None:
    assert offered(berlin(2026, 10, 25, 9, 0))
    assert offered(berlin(2026, 10, 25, 9, 30))
    assert not offered(berlin(2026, 10, 25, 8, 30))


# covers(): the Doctor Service answers free slots; a request must be exactly their union.
S9, S930, S10, S1030, S11 = (
    berlin(2030, 1, 7, 9, 0),
    berlin(2030, 1, 7, 9, 30),
    berlin(2030, 1, 7, 10, 0),
    berlin(2030, 1, 7, 10, 30),
    berlin(2030, 1, 7, 11, 0),
)
CONSECUTIVE = [(S9, S930), (S930, S10), (S10, S1030)]


def test_one_slot_covers_itself() -> None:
    assert covers([(S9, S930)], S9, S930)


def test_consecutive_slots_cover_their_union() -> None:
    assert covers(CONSECUTIVE, S9, S1030)
    assert covers(CONSECUTIVE, S930, S1030)  # a run starting in the middle


def test_slot_order_does_not_matter() -> None:
    assert covers(list(reversed(CONSECUTIVE)), S9, S1030)


def test_a_gap_is_not_covered() -> None:
    assert not covers([(S9, S930), (S10, S1030)], S9, S1030)


def test_running_past_the_last_slot_is_not_covered() -> None:
    assert not covers(CONSECUTIVE, S9, S11)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (S9 + timedelta(minutes=15), S10),  # starts inside a slot
        (S9, S930 + timedelta(minutes=15)),  # ends inside a slot
        (S9 + timedelta(minutes=15), S930 + timedelta(minutes=15)),  # both
    ],
    ids=["start-inside", "end-inside", "both-inside"],
)
def test_misaligned_requests_are_not_covered(start: datetime, end: datetime) -> None:
    assert not covers(CONSECUTIVE, start, end)


def test_no_free_slots_cover_nothing() -> None:
    assert not covers([], S9, S930)


def test_slots_in_utc_cover_a_request_in_local_time() -> None:
    # Aware datetimes compare by instant, so the Doctor Service may answer in UTC.
    slots = [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in CONSECUTIVE]
    assert covers(slots, S9, S10)
