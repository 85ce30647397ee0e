"""Clients of the peer services (Patient, Doctor, Billing) and their shared contracts.

The clients are imported lazily: ``peers.contracts`` is imported by workflow code inside
Temporal's sandbox, and importing this package must not drag httpx and settings in there."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config import Settings
    from peers.billing import BillingClient
    from peers.breaker import CircuitBreaker
    from peers.doctors import DoctorClient
    from peers.patients import PatientClient


@dataclass(frozen=True)
class Peers:
    patients: PatientClient
    doctors: DoctorClient
    billing: BillingClient

    @classmethod
    def from_settings(cls, settings: Settings) -> Peers:
        """One client per peer, each behind its own circuit breaker. The breakers live
        here, per process: each API replica and each worker judges the peers by the calls
        it makes itself."""
        from peers.billing import BillingClient
        from peers.breaker import CircuitBreaker
        from peers.doctors import DoctorClient
        from peers.patients import PatientClient

        def breaker(name: str) -> CircuitBreaker:
            return CircuitBreaker(
                name,
                failure_threshold=settings.breaker_failure_threshold,
                reset_seconds=settings.breaker_reset_seconds,
            )

        timeout = settings.peer_timeout_seconds
        return cls(
            patients=PatientClient(
                settings.patient_service_url, timeout, breaker=breaker("patient")
            ),
            doctors=DoctorClient(settings.doctor_service_url, timeout, breaker=breaker("doctor")),
            billing=BillingClient(
                settings.billing_service_url, timeout, breaker=breaker("billing")
            ),
        )

    @property
    def breakers(self) -> tuple[CircuitBreaker, ...]:
        """The breakers of the patient, doctor and billing clients, in that order (a client
        built without one is left out); each knows its peer's ``name``."""
        clients = (self.patients, self.doctors, self.billing)
        return tuple(client.breaker for client in clients if client.breaker is not None)

    async def aclose(self) -> None:
        await asyncio.gather(self.patients.aclose(), self.doctors.aclose(), self.billing.aclose())
