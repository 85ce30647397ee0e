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
    from peers.doctors import DoctorClient
    from peers.patients import PatientClient


@dataclass(frozen=True)
class Peers:
    patients: PatientClient
    doctors: DoctorClient
    billing: BillingClient

    @classmethod
    def from_settings(cls, settings: Settings) -> Peers:
        from peers.billing import BillingClient
        from peers.doctors import DoctorClient
        from peers.patients import PatientClient

        timeout = settings.peer_timeout_seconds
        return cls(
            patients=PatientClient(settings.patient_service_url, timeout),
            doctors=DoctorClient(settings.doctor_service_url, timeout),
            billing=BillingClient(settings.billing_service_url, timeout),
        )

    async def aclose(self) -> None:
        await asyncio.gather(self.patients.aclose(), self.doctors.aclose(), self.billing.aclose())
