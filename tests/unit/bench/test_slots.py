"""The pool of free slots: each handed out once, round-robin, fetched a window at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest

from bench.slots import FIRST_DAY_AHEAD, NoSlotsLeft, SlotPool
from peers.contracts import Doctor, WorkingHours

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def doctor(doctor_id: str, slot_minutes: int = 15) -> Doctor:
    return Doctor(
        id=doctor_id,
        name=doctor_id,
        specialty="general practice",
        timezone="UTC",
        slot_minutes=slot_minutes,
        working_hours=[WorkingHours(weekday=d, start=time(8), end=time(9)) for d in range(7)],
    )


class FakeCalendar:
    """Every doctor has slots at 08:00 and 08:30 each day; records what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, datetime, datetime]] = []

    async def __call__(self, doctor_id: str, lower: datetime, upper: datetime) -> list[datetime]:
        self.asked.append((doctor_id, lower, upper))
        await asyncio.sleep(0)
        starts = []
        day = lower.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < upper:
            for minute in (0, 30):
                at = day.replace(hour=8, minute=minute)
                if lower <= at < upper:
                    starts.append(at)
            day += timedelta(days=1)
        return starts


async def test_slots_go_round_robin_over_doctors_and_patients() -> None:
    pool = SlotPool([doctor("a", 15), doctor("b", 30)], ["p1", "p2", "p3"], FakeCalendar(), now=NOW)
    taken = [await pool.take() for _ in range(4)]
    assert [s.doctor_id for s in taken] == ["a", "b", "a", "b"]
    assert [s.patient_id for s in taken] == ["p1", "p2", "p3", "p1"]
    assert [s.duration_minutes for s in taken] == [15, 30, 15, 30]
    assert all(s.start >= NOW + FIRST_DAY_AHEAD for s in taken)
    assert pool.handed_out == 4


async def test_each_slot_is_handed_out_once_even_to_concurrent_takers() -> None:
    pool = SlotPool([doctor("a"), doctor("b")], ["p"], FakeCalendar(), now=NOW)
    taken = await asyncio.gather(*(pool.take() for _ in range(100)))
    keys = {(s.doctor_id, s.start) for s in taken}
    assert len(keys) == 100


async def test_windows_are_fetched_lazily_one_after_the_other() -> None:
    calendar = FakeCalendar()
    pool = SlotPool([doctor("a")], ["p"], calendar, now=NOW, window=timedelta(days=1))
    for _ in range(5):  # two slots a day: three windows
        await pool.take()
    assert len(calendar.asked) == 3
    (_, first_lower, first_upper), (_, second_lower, _), _ = calendar.asked
    assert first_lower == NOW + FIRST_DAY_AHEAD
    assert second_lower == first_upper


async def test_an_exhausted_pool_says_so() -> None:
    async def nothing(doctor_id: str, lower: datetime, upper: datetime) -> list[datetime]:
        return []

    pool = SlotPool([doctor("a")], ["p"], nothing, now=NOW, window=timedelta(days=90))
    with pytest.raises(NoSlotsLeft):
        await pool.take()


def test_a_pool_needs_doctors_and_patients() -> None:
    with pytest.raises(ValueError, match="doctor"):
        SlotPool([], ["p"], FakeCalendar())
