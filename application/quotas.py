"""What one caller may cost the service (README "Limits"), for every door alike:

- a rate of saga-starting requests (book, cancel, reschedule) per subject: a token bucket
  per caller, past which the use case refuses with 429 and Retry-After;
- a bound on looking up bookings that are not stored yet (a Temporal visibility query per
  GET of an unknown id): only appointment ids are looked up, and only within a token
  bucket per caller; past it the id reads as missing, as it would anyway;
- a cap on a patient's active upcoming appointments, counted through the repository port
  before a booking saga starts; staff and admin may book over it, and the saga records
  that they did.

The buckets live in the API process (``Services.of`` makes one ``Quotas`` per process and
every door's use cases share it), so each API replica counts its own callers: behind N
replicas a caller may get up to N times the rate. Pure Python: no adapter, no I/O but the
repository's."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from application.access import Requester
from application.commands import Book
from application.errors import PatientCapReached, TooManyRequests
from application.identifiers import APPOINTMENT_ID
from application.ports import AppointmentFilter, AppointmentRepository
from config import Settings
from domain.events import event_id_for
from domain.status import ACTIVE_STATUSES
from workflows.contracts.booking import legacy_workflow_id, workflow_id

# Seconds on a clock that never goes back: ``time.monotonic`` in the API.
Seconds = Callable[[], float]

_APPOINTMENT_ID = re.compile(APPOINTMENT_ID)


class TokenBuckets:
    """One token bucket per key: at most ``burst`` tokens, refilled at ``rate_per_second``.
    A bucket left alone until it is full again is forgotten (a new one starts full), so
    memory follows the callers of the last ``burst / rate`` seconds, not every caller
    ever."""

    def __init__(self, rate_per_second: float, burst: int, clock: Seconds = time.monotonic) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate, self._burst, self._clock = rate_per_second, float(burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._full_after = self._burst / self._rate  # seconds from empty to full
        self._next_sweep = clock() + self._full_after

    def take(self, key: str) -> float:
        """Take one of ``key``'s tokens: 0.0 when taken, otherwise the seconds until one is
        there (and nothing is taken)."""
        now = self._clock()
        self._sweep(now)
        tokens, then = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + max(0.0, now - then) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self._rate

    def __len__(self) -> int:
        """How many buckets are kept (the ones not known to be full)."""
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._buckets = {
            key: (tokens, then)
            for key, (tokens, then) in self._buckets.items()
            if now - then < self._full_after
        }
        self._next_sweep = now + self._full_after


@dataclass(frozen=True)
class Quotas:
    """The API process's quotas, shared by every door's use cases."""

    sagas: TokenBuckets  # saga-starting requests, per caller
    pending_lookups: TokenBuckets  # look-ups of bookings not stored yet, per caller
    patient_cap: int  # active upcoming appointments a patient may hold

    @classmethod
    def of(cls, settings: Settings, clock: Seconds = time.monotonic) -> Quotas:
        return cls(
            sagas=TokenBuckets(
                settings.saga_requests_per_minute / 60, settings.saga_request_burst, clock
            ),
            pending_lookups=TokenBuckets(
                settings.pending_lookups_per_minute / 60, settings.pending_lookup_burst, clock
            ),
            patient_cap=settings.patient_max_active_appointments,
        )

    def start_saga(self, requester: Requester) -> None:
        """Count one saga-starting request of the caller (whichever door it came through);
        TooManyRequests, with the seconds to wait, once the caller's bucket is empty."""
        wait = self.sagas.take(requester.principal.actor)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                "too many bookings, cancellations and reschedules in a short time; nothing "
                f"was started: retry in {seconds} s",
                seconds,
            )

    def may_look_up_pending(self, requester: Requester, appointment_id: str) -> bool:
        """Whether an id that is not stored may be looked up among the running booking
        sagas (a Temporal visibility query): only an appointment id (a UUID, as every
        booking makes), and only within the caller's bucket. Past it the id reads as
        missing (404), exactly as a missing id or someone else's reads: a caller cannot
        tell from the answer whether it was looked up."""
        if not _APPOINTMENT_ID.fullmatch(appointment_id):
            return False
        return self.pending_lookups.take(requester.principal.actor) == 0.0

    async def over_patient_cap(
        self,
        repository: AppointmentRepository,
        command: Book,
        requester: Requester,
        now: datetime,
    ) -> bool:
        """Whether this booking takes the patient over the cap of active upcoming
        appointments (PENDING, SCHEDULED, CONFIRMED, CHECKED_IN, starting from ``now``),
        counted through the repository before the saga starts: False under the cap. At
        the cap, True if the command says ``over_patient_cap`` (who may say so is checked
        before: staff and admin), so the saga records it; False for a retry of a booking
        the caller made with this Idempotency-Key (its saga answers what it did); otherwise
        PatientCapReached.

        Bookings whose sagas have not stored their appointment yet are not counted: a
        patient's concurrent bookings may pass the cap by the few in flight, which the
        rate limit bounds."""
        new = command.appointment
        where = AppointmentFilter(
            patient_id=new.patient_id, statuses=ACTIVE_STATUSES, start_from=now
        )
        active = await self._count(repository, where)
        if active < self.patient_cap:
            return False
        if await self._booked_by(repository, requester, command.idempotency_key):
            return False
        if new.over_patient_cap:
            return True
        raise PatientCapReached(self.patient_cap)

    async def _booked_by(
        self, repository: AppointmentRepository, requester: Requester, idempotency_key: str
    ) -> bool:
        """Whether the caller's booking saga of this key already stored its appointment
        (under the caller-scoped run id, or the key's run from before keys were scoped)."""
        actor = requester.principal.actor
        for event_id in requested_event_ids(actor, idempotency_key):
            event = await repository.event(event_id)
            if event is not None and event.context.actor == actor:
                return True
        return False

    async def _count(self, repository: AppointmentRepository, where: AppointmentFilter) -> int:
        """How many match, counted up to the cap only (one bounded index read)."""
        return len(await repository.find(where, after=None, limit=self.patient_cap))


def requested_event_ids(actor: str, idempotency_key: str) -> tuple[str, str]:
    """The ids the ``appointment.requested`` event of the caller's booking saga of this
    key has once it stored its appointment: its step key ``<workflow id>/pending``
    (``workflows/step_inputs.py`` ``BookingSteps.new_appointment``, pinned by
    tests/workflows/test_booking_over_cap.py), under the caller-scoped run id and under the
    run id of before keys were scoped to their caller."""
    runs = (workflow_id(actor, idempotency_key), legacy_workflow_id(idempotency_key))
    return (event_id_for(f"{runs[0]}/pending"), event_id_for(f"{runs[1]}/pending"))
