"""The names the read view shows beside the ids, asked of the Patient and Doctor services.

Names are decoration, but a row must never be skipped for want of one: a peer that is
down (or answers what our contract does not allow) is asked again with backoff until it
answers or the projector is stopped; only an unknown patient or doctor (404) gives a
``None`` name. A small cache per process (per ``Directory``) keeps a rebuild from asking
the same doctor a thousand times; entries live ``ttl_seconds`` so renames show up."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Generic, TypeVar

from loguru import logger

from domain.errors import DoctorNotFound, PatientNotFound, PeerContractError, PeerUnavailable
from peers.doctors import DoctorClient
from peers.patients import PatientClient
from projections.fold import Names
from projections.retry import Backoff, pause

T = TypeVar("T")
_MISSING = object()


class _Cache(Generic[T]):
    """Least recently used, bounded, each entry valid for ``ttl`` seconds."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float]) -> None:
        self._size, self._ttl, self._clock = size, ttl, clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, key: str) -> T | object:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._clock():
            return _MISSING
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, value: T) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class Directory:
    def __init__(
        self,
        patients: PatientClient,
        doctors: DoctorClient,
        stop: asyncio.Event,
        *,
        backoff: Backoff | None = None,
        cache_size: int = 20_000,
        ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        concurrency: int = 8,
        waiting: Callable[[], None] | None = None,
    ) -> None:
        """``waiting`` is called before each pause for a peer that is down (the projector's
        heartbeat: a loop waiting for a peer is alive, and a restart would not help)."""
        self._patients, self._doctors, self._stop = patients, doctors, stop
        self._waiting = waiting
        self._backoff = backoff or Backoff()
        self._patient_names: _Cache[str | None] = _Cache(cache_size, ttl_seconds, clock)
        self._doctor_names: _Cache[tuple[str, str] | None] = _Cache(cache_size, ttl_seconds, clock)
        self._limit = asyncio.Semaphore(concurrency)

    async def names(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Names]:
        """The names of each (patient id, doctor id), every unknown id asked once, a few
        at a time. Raises ``Stopping`` if the projector stops while a peer is down."""
        pairs = set(pairs)
        await self.warm({p for p, _ in pairs}, {d for _, d in pairs})
        return {(p, d): self._names(p, d) for p, d in pairs}

    async def warm(self, patient_ids: Collection[str], doctor_ids: Collection[str]) -> None:
        """Ask the peers for every id not in the cache."""
        asks = [self._patient(p) for p in patient_ids if self._patient_names.get(p) is _MISSING]
        asks += [self._doctor(d) for d in doctor_ids if self._doctor_names.get(d) is _MISSING]
        if asks:
            await asyncio.gather(*asks)

    async def warm_doctors(self) -> None:
        """Every doctor in one call: a rebuild then asks the Doctor Service nothing more."""
        doctors = await self._ask("doctor", "all doctors", self._doctors.list_doctors)
        for doctor in doctors:
            self._doctor_names.put(doctor.id, (doctor.name, doctor.specialty))

    def _names(self, patient_id: str, doctor_id: str) -> Names:
        patient = self._patient_names.get(patient_id)
        doctor = self._doctor_names.get(doctor_id)
        # Just warmed; should an entry have expired meanwhile, the row gets it next time.
        patient_name = patient if isinstance(patient, str) else None
        name, specialty = doctor if isinstance(doctor, tuple) else (None, None)
        return Names(patient_name, name, specialty)

    async def _patient(self, patient_id: str) -> None:
        get = self._patients.get_patient
        patient = await self._ask(
            "patient", patient_id, _or_unknown(get, patient_id, PatientNotFound)
        )
        self._patient_names.put(patient_id, patient.name if patient else None)

    async def _doctor(self, doctor_id: str) -> None:
        ask = _or_unknown(self._doctors.get_doctor, doctor_id, DoctorNotFound)
        doctor = await self._ask("doctor", doctor_id, ask)
        self._doctor_names.put(doctor_id, (doctor.name, doctor.specialty) if doctor else None)

    async def _ask(self, peer: str, what: str, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                async with self._limit:
                    return await call()
            except (PeerUnavailable, PeerContractError) as error:  # down, or off-contract
                delay = self._backoff.delay(attempt)
                logger.bind(peer=peer, attempt=attempt + 1).warning(
                    "{} service failed on {}: {}; retrying in {:.1f}s", peer, what, error, delay
                )
                if self._waiting is not None:
                    self._waiting()
                await pause(self._stop, delay)
                attempt += 1


def _or_unknown(
    get: Callable[[str], Awaitable[T]], what: str, unknown: type[Exception]
) -> Callable[[], Awaitable[T | None]]:
    """A look-up of ``what`` whose answer is None where the peer does not know it: a row
    then shows no name, as it does for any id the peer has never heard of."""

    async def ask() -> T | None:
        try:
            return await get(what)
        except unknown:
            return None

    return ask
