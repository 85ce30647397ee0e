"""The Doctor Service as the FHIR door's use cases ask it (``application.ports.DoctorDesk``):
its slot holds, through the peer's client (``peers.doctors.DoctorClient``, its
breaker and timeouts), answered in the application layer's words."""

from __future__ import annotations

from datetime import datetime

from application.ports import SlotHold
from peers.contracts import Hold, HoldRequest, HoldStatus
from peers.doctors import DoctorClient


class DoctorDeskClient:
    def __init__(self, client: DoctorClient) -> None:
        self._client = client

    async def hold(
        self,
        doctor_id: str,
        start: datetime,
        minutes: int,
        patient_id: str,
        ttl_seconds: int,
        idempotency_key: str,
    ) -> SlotHold:
        request = HoldRequest(
            start=start, duration_minutes=minutes, patient_id=patient_id, ttl_seconds=ttl_seconds
        )
        return _slot_hold(await self._client.hold_slot(doctor_id, request, idempotency_key))

    async def hold_of(self, hold_id: str) -> SlotHold | None:
        found = await self._client.get_hold(hold_id)
        return None if found is None else _slot_hold(found)

    async def held(self, doctor_id: str) -> list[SlotHold]:
        holds = await self._client.list_holds(doctor_id, HoldStatus.HELD)
        return [_slot_hold(h) for h in holds]


def _slot_hold(hold: Hold) -> SlotHold:
    return SlotHold(
        hold_id=hold.id,
        doctor_id=hold.doctor_id,
        patient_id=hold.patient_id,
        start=hold.start,
        end=hold.end,
        status=hold.status.value,
        expires_at=hold.expires_at,
    )
