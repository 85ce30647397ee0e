"""Distinct free slots for the bookings, from the Doctor simulator.

The pool asks each doctor's availability a week at a time, from two days ahead, and hands
out every slot once, round-robin over the doctors (and over the patients), so that the saga
and the baseline, which draw from the one pool, never compete for a slot."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import cycle

import httpx

from peers.contracts import Availability, Doctor, Patient

# Bookings need a future start and at most 365 days ahead (domain/rules.py).
FIRST_DAY_AHEAD = timedelta(days=2)
LAST_DAY_AHEAD = timedelta(days=360)
WINDOW = timedelta(days=7)

# (doctor id, from, to) -> the starts of the doctor's free slots in [from, to), in order
FetchSlots = Callable[[str, datetime, datetime], Awaitable[list[datetime]]]


@dataclass(frozen=True)
class Slot:
    """One booking to make: a free slot of a doctor, for a patient."""

    doctor_id: str
    patient_id: str
    start: datetime  # aware UTC
    duration_minutes: int


class NoSlotsLeft(RuntimeError):
    """Every doctor's calendar is handed out up to ``LAST_DAY_AHEAD``."""


class _Calendar:
    """One doctor's free slots, fetched lazily a window at a time."""

    def __init__(self, doctor: Doctor, first: datetime, last: datetime) -> None:
        self.doctor = doctor
        self.free: deque[datetime] = deque()
        self.cursor = first
        self.last = last

    @property
    def exhausted(self) -> bool:
        return not self.free and self.cursor >= self.last

    async def next_start(self, fetch: FetchSlots, window: timedelta) -> datetime | None:
        while not self.free and self.cursor < self.last:
            upper = min(self.cursor + window, self.last)
            self.free.extend(await fetch(self.doctor.id, self.cursor, upper))
            self.cursor = upper
        return self.free.popleft() if self.free else None


class SlotPool:
    """Hands out each free slot once; safe to share between concurrent tasks."""

    def __init__(
        self,
        doctors: Sequence[Doctor],
        patient_ids: Sequence[str],
        fetch: FetchSlots,
        *,
        now: datetime | None = None,
        window: timedelta = WINDOW,
    ) -> None:
        if not doctors or not patient_ids:
            raise ValueError("the pool needs at least one doctor and one patient")
        start = (now or datetime.now(UTC)) + FIRST_DAY_AHEAD
        last = start - FIRST_DAY_AHEAD + LAST_DAY_AHEAD
        self._calendars = [_Calendar(d, start, last) for d in doctors]
        self._turn = cycle(range(len(self._calendars)))
        self._patients = cycle(patient_ids)
        self._fetch = fetch
        self._window = window
        self._lock = asyncio.Lock()
        self.handed_out = 0

    async def take(self) -> Slot:
        async with self._lock:
            for _ in range(len(self._calendars)):
                calendar = self._calendars[next(self._turn)]
                if calendar.exhausted:
                    continue
                start = await calendar.next_start(self._fetch, self._window)
                if start is not None:
                    self.handed_out += 1
                    return Slot(
                        doctor_id=calendar.doctor.id,
                        patient_id=next(self._patients),
                        start=start,
                        duration_minutes=calendar.doctor.slot_minutes,
                    )
            raise NoSlotsLeft(f"no free slot left within {LAST_DAY_AHEAD.days} days")


async def directory(
    client: httpx.AsyncClient, doctor_url: str, patient_url: str
) -> tuple[list[Doctor], list[Patient]]:
    """Every doctor and patient the simulators know."""
    doctors = await client.get(f"{doctor_url}/doctors")
    patients = await client.get(f"{patient_url}/patients")
    return (
        [Doctor.model_validate(d) for d in doctors.raise_for_status().json()],
        [Patient.model_validate(p) for p in patients.raise_for_status().json()],
    )


def availability_fetcher(client: httpx.AsyncClient, doctor_url: str) -> FetchSlots:
    """``FetchSlots`` asking the Doctor simulator (GET /doctors/{id}/availability)."""

    async def fetch(doctor_id: str, lower: datetime, upper: datetime) -> list[datetime]:
        window = {"from": lower.isoformat(), "to": upper.isoformat()}
        answer = await client.get(f"{doctor_url}/doctors/{doctor_id}/availability", params=window)
        free = Availability.model_validate(answer.raise_for_status().json())
        return [slot.start.astimezone(UTC) for slot in free.slots]

    return fetch
