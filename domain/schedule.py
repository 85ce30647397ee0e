"""A doctor's calendar as pure arithmetic: which slots the doctor offers (working hours
on a grid, in the doctor's time zone) and whether a request fits the free ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class WorkingInterval:
    weekday: int  # 0 = Monday
    start: time
    end: time  # 00:00: the midnight that ends the day (00:00-00:00 is the whole day)


def closing(day: date, end: time, zone: ZoneInfo) -> datetime:
    """When working hours that end at ``end`` on ``day`` close, in ``zone``'s wall clock.
    Working hours never cross midnight, so an end of 00:00 can only mean the midnight at
    the end of the day: 00:00-00:00 is the whole day, 23 or 25 hours on a DST change day."""
    if end == time(0):
        return datetime.combine(day + timedelta(days=1), end, tzinfo=zone)
    return datetime.combine(day, end, tzinfo=zone)


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """A doctor's calendar as the Doctor Service keeps it: whose, in which zone, on which
    grid, and when they work."""

    doctor_name: str
    zone: ZoneInfo
    slot_minutes: int
    hours: tuple[WorkingInterval, ...]

    def offers(self, start: datetime, end: datetime) -> bool:
        return is_offered(start, end, self.hours, self.zone, self.slot_minutes)

    def slots_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The grid's slots of the doctor's own ``day`` (a date in their zone), in UTC."""
        return grid_slots(day, self.hours, self.zone, self.slot_minutes)


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
    wall-clock time, which is what we want here). The length is real time: a slot that
    starts in the first 02:45 of the autumn change and ends at the second 02:00 lasts its
    15 minutes."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    slot = timedelta(minutes=slot_minutes)
    length = end.astimezone(UTC) - start.astimezone(UTC)
    if length % slot or length <= timedelta(0):
        return False
    day = local_start.date()
    for interval in hours:
        if interval.weekday != day.weekday():
            continue
        opens = datetime.combine(day, interval.start, tzinfo=zone)
        closes = closing(day, interval.end, zone)
        on_grid = (local_start - opens) % slot == timedelta(0)
        if opens <= local_start and local_end <= closes and on_grid:
            return True
    return False


def grid_slots(
    day: date, hours: Sequence[WorkingInterval], zone: ZoneInfo, slot_minutes: int
) -> list[tuple[datetime, datetime]]:
    """The slots the doctor offers on ``day`` (a date in ``zone``) as UTC instants, in
    order: every instant whose wall-clock time in ``zone`` is on the grid of a working
    interval, each lasting ``slot_minutes``, and each one ``is_offered`` accepts (so the
    booking saga, which checks with ``is_offered``, takes every slot listed here).

    The grid runs in wall-clock time, so 09:00 stays 09:00 across a daylight-saving
    change (08:00Z in winter, 07:00Z in summer). On the spring change, wall times that do
    not exist (02:00-03:00 in Berlin) offer nothing; on the autumn change, a wall time
    that happens twice offers a slot at each of its real instants (``fold`` 0 and 1). An
    interval ending at 00:00 runs to the midnight at the end of ``day``."""
    slot = timedelta(minutes=slot_minutes)
    found: set[tuple[datetime, datetime]] = set()
    for interval in hours:
        if interval.weekday != day.weekday():
            continue
        wall = datetime.combine(day, interval.start, tzinfo=zone)
        closes = closing(day, interval.end, zone)
        while wall + slot <= closes:  # one tzinfo: wall-clock arithmetic and comparison
            for fold in (0, 1):
                start = wall.replace(fold=fold).astimezone(UTC)
                end = start + slot
                if _shows(start, wall, zone) and is_offered(
                    start, end, [interval], zone, slot_minutes
                ):
                    found.add((start, end))
            wall += slot
    return sorted(found)


def _shows(instant: datetime, wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the clocks of ``zone`` show ``wall`` at ``instant`` (not so in a DST gap)."""
    return instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None)


def covers(free_slots: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    """Whether consecutive free slots cover exactly [start, end)."""
    cursor = start
    for slot_start, slot_end in sorted(free_slots):
        if slot_start == cursor:
            cursor = slot_end
            if cursor >= end:
                return cursor == end
    return False
