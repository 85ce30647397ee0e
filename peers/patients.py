"""Client of the Patient Service."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from peers.breaker import CircuitBreaker
from peers.contracts import Patient
from peers.http import PeerHttp


class PatientClient:
    def __init__(
        self,
        base_url: str,
        timeout: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._http = PeerHttp("patient", base_url, timeout, transport=transport, breaker=breaker)

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self._http.breaker

    async def get_patient(self, patient_id: str) -> Patient:
        """Raises ``PatientNotFound`` for an unknown patient."""
        response = await self._http.request("GET", f"/patients/{quote(patient_id, safe='')}")
        return self._http.parse(Patient, response)

    async def list_patients(self) -> list[Patient]:
        return self._http.parse(list[Patient], await self._http.request("GET", "/patients"))

    async def aclose(self) -> None:
        await self._http.aclose()
