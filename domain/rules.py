"""Validation rules for a requested appointment time: pure functions of their inputs
(the current instant is passed in, never read from a clock here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import InvalidAppointment

# The finest unit of a doctor's calendar. Every start and duration is a multiple of it, and
# an appointment occupies one "cell" per unit: the database's unique index over
# (doctor, cell) then rejects any overlap, not only an identical start.
CELL_MINUTES = 5


@dataclass(frozen=True, slots=True)
class BookingLimits:
    min_duration_minutes: int = 10
    max_duration_minutes: int = 120
    max_days_ahead: int = 365


def ensure_aware(instant: datetime, field: str = "start") -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidAppointment(f"{field} must carry a UTC offset, e.g. 2030-01-07T09:00:00+01:00")


def validate_requested_time(
    start: datetime, duration_minutes: int, now: datetime, limits: BookingLimits
) -> None:
    """Rules that hold for every doctor. The doctor's own slot grid and working hours are
    checked by the Doctor Service when the saga asks for availability."""
    ensure_aware(start)
    ensure_aware(now, "now")
    if start <= now:
        raise InvalidAppointment("start must be in the future")
    if start > now + timedelta(days=limits.max_days_ahead):
        raise InvalidAppointment(f"start must be within {limits.max_days_ahead} days")
    if not limits.min_duration_minutes <= duration_minutes <= limits.max_duration_minutes:
        raise InvalidAppointment(
            f"duration_minutes must be between {limits.min_duration_minutes} and "
            f"{limits.max_duration_minutes}"
        )
    if duration_minutes % CELL_MINUTES:
        raise InvalidAppointment(f"duration_minutes must be a multiple of {CELL_MINUTES}")
    utc = start.astimezone(UTC)  # the cells are on the UTC grid, whatever the offset says
    if utc.second or utc.microsecond or utc.minute % CELL_MINUTES:
        raise InvalidAppointment(f"start must be on a {CELL_MINUTES}-minute boundary")


def occupied_cells(start: datetime, duration_minutes: int) -> list[datetime]:
    """The calendar cells an appointment covers, in order."""
    step = timedelta(minutes=CELL_MINUTES)
    return [start + i * step for i in range(duration_minutes // CELL_MINUTES)]


def end_of(start: datetime, duration_minutes: int) -> datetime:
    return start + timedelta(minutes=duration_minutes)
