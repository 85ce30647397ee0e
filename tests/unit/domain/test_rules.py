"""Rules for a requested appointment time, with the current instant passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from domain.errors import InvalidAppointment
from domain.rules import (
    CELL_MINUTES,
    BookingLimits,
    end_of,
    occupied_cells,
    validate_requested_time,
)

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
START = datetime(2030, 1, 8, 9, 0, tzinfo=UTC)
LIMITS = BookingLimits()  # 10..120 minutes, up to 365 days ahead


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: as useless as no tzinfo at all."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_a_valid_request_passes() -> None:
    validate_requested_time(START, 30, NOW, LIMITS)


def test_an_offset_other_than_utc_is_fine() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    validate_requested_time(datetime(2030, 1, 8, 10, 0, tzinfo=berlin_winter), 30, NOW, LIMITS)


@pytest.mark.parametrize("zone", [None, _NoOffset()], ids=["naive", "no-offset"])
def test_start_without_offset_is_refused(zone: tzinfo | None) -> None:
    with pytest.raises(InvalidAppointment, match="start must carry a UTC offset"):
        validate_requested_time(START.replace(tzinfo=zone), 30, NOW, LIMITS)


def test_naive_now_is_refused() -> None:
    with pytest.raises(InvalidAppointment, match="now must carry a UTC offset"):
        validate_requested_time(START, 30, NOW.replace(tzinfo=None), LIMITS)


@pytest.mark.parametrize(
    "start", [NOW - timedelta(days=1), NOW - timedelta(minutes=5), NOW], ids=["day", "5min", "now"]
)
def test_past_or_present_start_is_refused(start: datetime) -> None:
    with pytest.raises(InvalidAppointment, match="in the future"):
        validate_requested_time(start, 30, NOW, LIMITS)


def test_first_cell_after_now_is_accepted() -> None:
    validate_requested_time(NOW + timedelta(minutes=CELL_MINUTES), 30, NOW, LIMITS)


def test_the_same_instant_in_another_offset_is_still_now() -> None:
    # Comparison is by instant, not by wall clock: 09:00+01:00 is 08:00Z, i.e. now.
    same_instant = NOW.astimezone(timezone(timedelta(hours=1)))
    with pytest.raises(InvalidAppointment, match="in the future"):
        validate_requested_time(same_instant, 30, NOW, LIMITS)


def test_last_day_ahead_is_accepted_and_one_cell_later_refused() -> None:
    limit = NOW + timedelta(days=LIMITS.max_days_ahead)
    validate_requested_time(limit, 30, NOW, LIMITS)
    with pytest.raises(InvalidAppointment, match="within 365 days"):
        validate_requested_time(limit + timedelta(minutes=CELL_MINUTES), 30, NOW, LIMITS)


def test_custom_limits_are_honoured() -> None:
    short = BookingLimits(min_duration_minutes=5, max_duration_minutes=15, max_days_ahead=1)
    validate_requested_time(NOW + timedelta(hours=1), 5, NOW, short)
    with pytest.raises(InvalidAppointment, match="within 1 days"):
        validate_requested_time(NOW + timedelta(days=2), 5, NOW, short)
    with pytest.raises(InvalidAppointment, match="between 5 and 15"):
        validate_requested_time(NOW + timedelta(hours=1), 20, NOW, short)


@pytest.mark.parametrize("minutes", [10, 15, 60, 120])
def test_duration_within_bounds_is_accepted(minutes: int) -> None:
    validate_requested_time(START, minutes, NOW, LIMITS)


@pytest.mark.parametrize("minutes", [-10, 0, 5, 125, 240])
def test_duration_out_of_bounds_is_refused(minutes: int) -> None:
    with pytest.raises(InvalidAppointment, match="between 10 and 120"):
        validate_requested_time(START, minutes, NOW, LIMITS)


@pytest.mark.parametrize("minutes", [11, 12, 14, 33, 119])
def test_duration_off_the_cell_grid_is_refused(minutes: int) -> None:
    with pytest.raises(InvalidAppointment, match="multiple of 5"):
        validate_requested_time(START, minutes, NOW, LIMITS)


@pytest.mark.parametrize(
    "start",
    [
        START.replace(minute=7),
        START.replace(minute=59),
        START.replace(second=30),
        START.replace(microsecond=1),
    ],
    ids=["minute-7", "minute-59", "second-30", "microsecond-1"],
)
def test_start_off_the_cell_boundary_is_refused(start: datetime) -> None:
    with pytest.raises(InvalidAppointment, match="5-minute boundary"):
        validate_requested_time(start, 30, NOW, LIMITS)


@pytest.mark.parametrize("minute", range(0, 60, CELL_MINUTES))
def test_every_cell_boundary_is_accepted(minute: int) -> None:
    validate_requested_time(START.replace(minute=minute), 30, NOW, LIMITS)


def test_occupied_cells_are_consecutive_from_start() -> None:
    cells = occupied_cells(START, 30)
    assert cells == [START + timedelta(minutes=m) for m in (0, 5, 10, 15, 20, 25)]
    # The last cell begins one cell before the end: adjacent appointments share no cell.
    assert cells[-1] + timedelta(minutes=CELL_MINUTES) == end_of(START, 30)


def test_adjacent_appointments_share_no_cell_and_overlapping_ones_do() -> None:
    first = set(occupied_cells(START, 30))
    assert not first & set(occupied_cells(START + timedelta(minutes=30), 30))
    assert first & set(occupied_cells(START + timedelta(minutes=25), 30))
    assert first & set(occupied_cells(START - timedelta(minutes=15), 20))


def test_occupied_cells_of_zero_duration_is_empty() -> None:
    assert occupied_cells(START, 0) == []


def test_end_of() -> None:
    assert end_of(START, 45) == START + timedelta(minutes=45)
