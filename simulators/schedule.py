"""The Doctor Service's calendar arithmetic: working-hours intervals, the slot grid and
what is free. Pure functions over the contracts, answered in UTC."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.schedule import closing
from peers.contracts import Doctor, Slot
from simulators.problems import Problem

MAX_WINDOW = timedelta(days=31)

Interval = tuple[datetime, datetime]


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def working_intervals(doctor: Doctor, start: datetime, end: datetime) -> Iterator[Interval]:
    """The doctor's working-hours intervals (UTC) that overlap [start, end).

    Each interval is anchored in the doctor's wall-clock time, so 08:00 in Berlin is 07:00Z
    in winter and 06:00Z in summer; zoneinfo resolves the offset per date. Working hours
    never cross midnight, so an interval belongs to the local date it starts on; one that
    ends at 00:00 runs to the midnight at the end of that date (00:00-00:00: all day)."""
    zone = ZoneInfo(doctor.timezone)
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        for hours in doctor.working_hours:
            if hours.weekday != day.weekday():
                continue
            interval = (
                datetime.combine(day, hours.start, tzinfo=zone).astimezone(UTC),
                closing(day, hours.end, zone).astimezone(UTC),
            )
            if overlaps(interval, (start, end)):
                yield interval
        day += timedelta(days=1)


def _grid(doctor: Doctor, interval: Interval) -> Iterator[Interval]:
    # Steps in absolute time from the interval's start: a slot always lasts slot_minutes,
    # even in working hours that would straddle a DST changeover.
    step = timedelta(minutes=doctor.slot_minutes)
    slot_start = interval[0]
    while slot_start + step <= interval[1]:
        yield slot_start, slot_start + step
        slot_start += step


def free_slots(
    doctor: Doctor, start: datetime, end: datetime, busy: Iterable[Interval]
) -> list[Slot]:
    """Grid slots lying entirely inside [start, end), minus those overlapping ``busy``."""
    taken = list(busy)
    slots = [
        slot
        for interval in working_intervals(doctor, start, end)
        for slot in _grid(doctor, interval)
        if start <= slot[0] and slot[1] <= end and not any(overlaps(slot, other) for other in taken)
    ]
    return [Slot(start=slot_start, end=slot_end) for slot_start, slot_end in sorted(slots)]


def why_not_offered(doctor: Doctor, start: datetime, duration_minutes: int) -> str | None:
    """None when [start, start + duration) is a run of whole grid slots inside one
    working-hours interval; otherwise the reason, for the problem's detail."""
    if duration_minutes % doctor.slot_minutes:
        return f"duration must be a multiple of {doctor.slot_minutes} minutes"
    end = start + timedelta(minutes=duration_minutes)
    for interval in working_intervals(doctor, start, end):
        if interval[0] <= start and end <= interval[1]:
            if (start - interval[0]) % timedelta(minutes=doctor.slot_minutes):
                return f"start is not on the {doctor.slot_minutes}-minute grid"
            return None
    return "not inside the doctor's working hours"


def _parse_instant(name: str, value: str) -> datetime:
    # A '+' in an unencoded query string arrives as a space; restoring it (only after the
    # 'T', where a space can mean nothing else) spares callers a confusing "no offset" error.
    value = value.strip()
    if "T" in value:
        date_part, _, time_part = value.partition("T")
        value = f"{date_part}T{time_part.replace(' ', '+')}"
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Problem(422, "invalid-window", "Invalid time window", f"{name}: {exc}") from exc
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise Problem(
            422, "invalid-window", "Invalid time window", f"{name} must carry a UTC offset"
        )
    return instant.astimezone(UTC)


def parse_window(from_: str, to: str) -> Interval:
    start, end = _parse_instant("from", from_), _parse_instant("to", to)
    if end <= start:
        raise Problem(422, "invalid-window", "Invalid time window", "to must be after from")
    if end - start > MAX_WINDOW:
        raise Problem(
            422, "invalid-window", "Invalid time window", "the window may span at most 31 days"
        )
    return start, end
