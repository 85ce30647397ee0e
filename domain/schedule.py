"""A doctor's calendar as pure arithmetic: which slots the doctor offers (working hours
on a grid, in the doctor's time zone) and whether a request fits the free ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class WorkingInterval:
    weekday: int  # 0 = Monday
    start: time
    end: time


def is_offered(
    start: datetime,
    end: datetime,
    hours: Sequence[WorkingInterval],
    zone: ZoneInfo,
    slot_minutes: int,
) -> bool:
    """Whether [start, end) lies inside one working interval and on the doctor's grid.

    The grid runs in wall-clock time from the interval's start, so a 09:00 slot stays at
    09:00 across a daylight-saving change (aware datetimes sharing one tzinfo subtract in
    wall-clock time, which is what we want here)."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    slot = timedelta(minutes=slot_minutes)
    if (local_end - local_start) % slot or local_end <= local_start:
        return False
    day = local_start.date()
    for interval in hours:
        if interval.weekday != day.weekday():
            continue
        opens = datetime.combine(day, interval.start, tzinfo=zone)
        closes = datetime.combine(day, interval.end, tzinfo=zone)
        on_grid = (local_start - opens) % slot == timedelta(0)
        if opens <= local_start and local_end <= closes and on_grid:
            return True
    return False


def covers(free_slots: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    """Whether consecutive free slots cover exactly [start, end)."""
    cursor = start
    for slot_start, slot_end in sorted(free_slots):
        if slot_start == cursor:
            cursor = slot_end
            if cursor >= end:
                return cursor == end
    return False
