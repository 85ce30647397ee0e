"""The two booking drivers the benchmark compares, on one pool of free slots:

- ``SagaBooker``: ``POST /api/v1/appointments`` through the API, which runs the
  ``BookingWorkflow`` on Temporal and answers 201 once the saga has SCHEDULED it;
- ``InlineBooker``: the saga's forward steps called one after the other in this process,
  with neither Temporal nor HTTP in front: the activities of ``worker.py``, built the same
  way, each run in an ``ActivityEnvironment`` (they read ``activity.info()``), with the
  same inputs and idempotency keys as ``workflows/booking.py``. It does not compensate: a
  failed booking is counted as an error, and its hold expires by itself.

``booking_levels`` runs both at each concurrency level, baseline first, so that the two
meet the same state of the peers (the simulators' state grows with every booking)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.appointments import AppointmentActivities
from activities.models import HoldAction
from activities.peers import PeerActivities
from bench.load import CpuProbe, LoopResult, OperationError, closed_loop
from bench.slots import Slot, SlotPool
from config import Settings
from domain.events import EventContext
from peers import Peers
from persistence import AppointmentStore, connect
from workflows.contracts.booking import BookingRequest
from workflows.policies import DB_RETRY, PEER_RETRY, STEP_TIMEOUT, UNTIL_DONE
from workflows.step_inputs import BookingSteps

R = TypeVar("R")
BOOKINGS = "/api/v1/appointments"
ACTOR = "staff:bench"  # how the API names a staff caller with subject "bench"
# A policy without a maximum (UNTIL_DONE) is retried this often here: a benchmark must end.
UNLIMITED_ATTEMPTS = 10


def retryable(error: BaseException, policy: RetryPolicy) -> bool:
    """Whether Temporal would retry an activity that raised ``error`` under ``policy``."""
    if isinstance(error, ApplicationError):
        kind = error.type or type(error).__name__
        return not error.non_retryable and kind not in (policy.non_retryable_error_types or ())
    return type(error).__name__ not in (policy.non_retryable_error_types or ())


def retry_delay(error: BaseException, policy: RetryPolicy, attempt: int) -> float:
    """Seconds before the next attempt after ``attempt`` failed: the error's own delay if it
    names one, else the policy's exponential backoff."""
    if isinstance(error, ApplicationError) and error.next_retry_delay is not None:
        return error.next_retry_delay.total_seconds()
    delay = policy.initial_interval.total_seconds() * policy.backoff_coefficient ** (attempt - 1)
    ceiling = policy.maximum_interval
    return min(delay, ceiling.total_seconds()) if ceiling else delay


def idempotency_key() -> str:
    return f"bench-{uuid.uuid4()}"


def booking_body(slot: Slot) -> dict[str, Any]:
    return {
        "patient_id": slot.patient_id,
        "doctor_id": slot.doctor_id,
        "start": slot.start.isoformat(),
        "duration_minutes": slot.duration_minutes,
    }


class SagaBooker:
    """Books through the API: 201 is a success, any other answer an error."""

    def __init__(self, client: httpx.AsyncClient, api_url: str, token: str) -> None:
        self._client = client
        self._url = f"{api_url}{BOOKINGS}"
        self._auth = f"Bearer {token}"

    async def book(self, slot: Slot) -> None:
        headers = {"Authorization": self._auth, "Idempotency-Key": idempotency_key()}
        answer = await self._client.post(self._url, json=booking_body(slot), headers=headers)
        if answer.status_code != 201:
            raise OperationError(f"HTTP {answer.status_code}: {answer.text}")


class InlineBooker:
    """The saga's forward steps in order, in process: the baseline."""

    def __init__(
        self, peers: PeerActivities, appointments: AppointmentActivities, settings: Settings
    ) -> None:
        self._peers = peers
        self._appointments = appointments
        self._settings = settings
        self.retries = 0  # attempts that failed transiently and were retried

    @classmethod
    @asynccontextmanager
    async def connected(cls, settings: Settings) -> AsyncIterator[InlineBooker]:
        """Built exactly as ``worker.py`` builds its activities."""
        mongo = await connect(settings)
        peers = Peers.from_settings(settings)
        try:
            store = AppointmentStore(mongo, settings.kafka_topic)
            yield cls(
                PeerActivities(peers, store, settings),
                AppointmentActivities(store, settings),
                settings,
            )
        finally:
            await peers.aclose()
            await mongo.close()

    async def book(self, slot: Slot) -> None:
        peers, appointments = self._peers, self._appointments
        key = f"booking-{idempotency_key()}"  # the saga's keys derive from its workflow id
        appointment_id = str(uuid.uuid4())
        caller = EventContext(actor=ACTOR, request_id=None)
        env = ActivityEnvironment()
        info = dataclasses.replace(
            env.info,
            workflow_id=key,
            workflow_run_id=str(uuid.uuid4()),
            workflow_type="BookingWorkflow",
            task_queue=self._settings.temporal_task_queue,
        )

        async def step(
            name: str, fn: Callable[[Any], Awaitable[R]], arg: Any, policy: RetryPolicy = PEER_RETRY
        ) -> R:
            """One activity as the worker runs it: each attempt within the step's timeout,
            retried as the step's policy says."""
            attempts = policy.maximum_attempts or UNLIMITED_ATTEMPTS
            for attempt in range(1, attempts + 1):
                env.info = dataclasses.replace(
                    info,
                    activity_type=name,
                    activity_id=name,
                    attempt=attempt,
                    retry_policy=policy,
                    start_to_close_timeout=STEP_TIMEOUT,
                    schedule_to_close_timeout=None,
                )
                try:
                    async with asyncio.timeout(STEP_TIMEOUT.total_seconds()):
                        return await env.run(fn, arg)
                except Exception as error:
                    if attempt == attempts or not retryable(error, policy):
                        raise
                    self.retries += 1
                    await asyncio.sleep(retry_delay(error, policy, attempt))
            raise AssertionError("unreachable: the last attempt returns or raises")

        r = BookingRequest(
            appointment_id=appointment_id,
            patient_id=slot.patient_id,
            doctor_id=slot.doctor_id,
            start=slot.start,
            duration_minutes=slot.duration_minutes,
            idempotency_key=key.removeprefix("booking-"),
            fingerprint="bench",
            caller=caller,
        )
        # The saga's forward steps in its order, with the inputs it builds (BookingSteps).
        steps = BookingSteps(r, key)
        await step("validate_patient", peers.validate_patient, steps.patient_check())
        await step("check_availability", peers.check_availability, steps.slot_check())
        held = await step("reserve_slot", peers.reserve_slot, steps.reservation())
        await step(
            "persist_pending",
            appointments.persist_pending,
            steps.new_appointment(held.hold_id),
            DB_RETRY,
        )
        invoice = await step("create_invoice", peers.create_invoice, steps.invoice_order())
        await step(
            "confirm_slot", peers.confirm_slot, HoldAction(hold_id=held.hold_id, caller=caller)
        )
        await step(
            "mark_scheduled", appointments.mark_scheduled, steps.scheduled(invoice), UNTIL_DONE
        )


Book = Callable[[Slot], Awaitable[None]]
Progress = Callable[[str], None]


async def booking_levels(
    pool: SlotPool,
    drivers: Sequence[tuple[str, Book]],
    levels: Sequence[int],
    *,
    seconds: float,
    warmup_seconds: float,
    progress: Progress,
    cpu: CpuProbe | None = None,
) -> dict[str, list[LoopResult]]:
    """For each level, run each driver in turn (in the order given) in a closed loop."""
    results: dict[str, list[LoopResult]] = {name: [] for name, _ in drivers}
    for level in levels:
        for name, book in drivers:
            progress(f"booking: {name} at concurrency {level} ({seconds:g} s)")
            run = await closed_loop(
                pool.take,
                book,
                concurrency=level,
                seconds=seconds,
                warmup_seconds=warmup_seconds,
                cpu=cpu,
            )
            s = run.summary
            progress(
                f"  {s.ok} booked, {s.errors} errors, p50 {s.p50_ms} ms, {s.throughput_per_s:.2f}/s"
            )
            results[name].append(run)
    return results
