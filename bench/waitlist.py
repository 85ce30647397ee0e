"""How soon a freed slot reaches the waitlist (issue #16): from a cancellation's answer to
the first ``waitlist.offered`` event on Kafka.

One sample at a time: a free slot is booked for one patient, another patient joins the
waitlist for exactly that slot (the doctor, a window holding only its start, its
duration), then the booking is cancelled through the API. The clock starts when the
cancellation answers and stops when a consumer outside any group (``TopicWatcher`` on the
waitlist's topic) receives the ``waitlist.offered`` event of that entry. What lies between:
the cancellation saga starting the slot's offer round, the round holding the slot at the
Doctor Service and choosing the entry, the offer's commit, and the outbox relay. The
entry then leaves (its offer is withdrawn, the round lets the slot go), so the patient is
free for the next sample and no offer lingers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from bench.booking import BOOKINGS, booking_body
from bench.load import OperationError
from bench.outbox import Received
from bench.slots import Slot, SlotPool
from bench.stats import Summary, summarize

WAITLIST = "/api/v1/waitlist"
OFFERED = "waitlist.offered"
SAMPLES = 20
QUICK_SAMPLES = 5
OFFER_TIMEOUT_SECONDS = 30.0  # a sample whose offer has not arrived by then is an error
POLL_SECONDS = 0.005
FIRST_ERRORS = 5


class WaitlistReport(BaseModel):
    """The samples' latency (``summary``: successes only, one sample at a time)."""

    samples: int
    summary: Summary


class WaitlistDoors(Protocol):
    """What a sample does through the API."""

    async def book(self, slot: Slot) -> str:
        """The new appointment's id."""
        ...

    async def join(self, slot: Slot, patient_id: str) -> str:
        """The new waitlist entry's id: the patient waits for exactly ``slot``."""
        ...

    async def cancel(self, appointment_id: str) -> None: ...

    async def leave(self, entry_id: str) -> None: ...


def first_offer(received: Sequence[Received], entry_id: str, since: float) -> float | None:
    """When the first ``waitlist.offered`` of ``entry_id`` arrived at or after ``since``
    (epoch seconds), if it has."""
    times = [
        r.received_at
        for r in received
        if r.type == OFFERED and r.key == entry_id and r.received_at >= since
    ]
    return min(times) if times else None


def waiting_patient(patient_ids: Sequence[str], index: int, booked_for: str) -> str:
    """The patient who waits in sample ``index``: never the one whose booking is cancelled."""
    others = [p for p in patient_ids if p != booked_for]
    if not others:
        raise ValueError("the waitlist samples need two patients at least")
    return others[index % len(others)]


async def offer_latency(
    doors: WaitlistDoors,
    pool: SlotPool,
    patient_ids: Sequence[str],
    received: Callable[[], Sequence[Received]],
    *,
    samples: int,
    progress: Callable[[str], None],
    offer_within: float = OFFER_TIMEOUT_SECONDS,
) -> WaitlistReport:
    """``samples`` cancellations one after the other, each timed from its answer to its
    entry's offer on the topic (``received``: what the watcher has seen so far)."""
    latencies: list[float] = []
    errors: list[str] = []
    began = time.monotonic()
    for index in range(samples):
        try:
            seconds = await one_sample(doors, pool, patient_ids, received, index, offer_within)
            latencies.append(seconds)
        except (OperationError, httpx.HTTPError) as error:
            errors.append(f"{type(error).__name__}: {error}")
    summary = summarize(latencies, len(errors), time.monotonic() - began, 1, errors[:FIRST_ERRORS])
    progress(
        f"waitlist offers: {len(latencies)} of {samples} samples, p50 {summary.p50_ms} ms, "
        f"p99 {summary.p99_ms} ms"
    )
    return WaitlistReport(samples=samples, summary=summary)


async def one_sample(
    doors: WaitlistDoors,
    pool: SlotPool,
    patient_ids: Sequence[str],
    received: Callable[[], Sequence[Received]],
    index: int,
    offer_within: float,
) -> float:
    """Seconds from the cancellation's answer to its entry's offer on the topic; the entry
    leaves afterwards whatever happened."""
    slot = await pool.take()
    appointment_id = await doors.book(slot)
    entry_id = await doors.join(slot, waiting_patient(patient_ids, index, slot.patient_id))
    try:
        await doors.cancel(appointment_id)
        answered = time.time()
        deadline = time.monotonic() + offer_within
        while (arrived := first_offer(received(), entry_id, answered)) is None:
            if time.monotonic() > deadline:
                raise OperationError(f"no {OFFERED} for entry {entry_id} within {offer_within:g} s")
            await asyncio.sleep(POLL_SECONDS)
        return arrived - answered
    finally:
        await doors.leave(entry_id)


@dataclass(frozen=True)
class ApiDoors:
    """``WaitlistDoors`` through the REST API, as staff."""

    client: httpx.AsyncClient
    api_url: str
    token: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Idempotency-Key": str(uuid.uuid4())}

    async def _post(self, path: str, body: dict[str, Any] | None, expected: int) -> Any:
        answer = await self.client.post(f"{self.api_url}{path}", json=body, headers=self._headers())
        if answer.status_code != expected:
            raise OperationError(f"POST {path}: HTTP {answer.status_code}: {answer.text}")
        return answer.json()

    async def book(self, slot: Slot) -> str:
        return str((await self._post(BOOKINGS, booking_body(slot), 201))["id"])

    async def join(self, slot: Slot, patient_id: str) -> str:
        body = {
            "patient_id": patient_id,
            "doctor_id": slot.doctor_id,
            "earliest_start": slot.start.isoformat(),
            "latest_start": slot.start.isoformat(),
            "duration_minutes": slot.duration_minutes,
            "priority": "routine",
        }
        return str((await self._post(WAITLIST, body, 201))["id"])

    async def cancel(self, appointment_id: str) -> None:
        body = {"reason": "bench: the slot goes to the waitlist"}
        await self._post(f"{BOOKINGS}/{appointment_id}/cancel", body, 200)

    async def leave(self, entry_id: str) -> None:
        answer = await self.client.delete(
            f"{self.api_url}{WAITLIST}/{entry_id}", headers=self._headers()
        )
        if answer.status_code not in (200, 204, 409):  # 409: it had left, or was booked
            raise OperationError(f"DELETE {WAITLIST}/{entry_id}: HTTP {answer.status_code}")
