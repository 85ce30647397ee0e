"""Client of the Patient Service."""

from __future__ import annotations

from peers.contracts import Patient
from peers.http import PeerClient


class PatientClient(PeerClient):
    peer = "patient"

    async def get_patient(self, patient_id: str) -> Patient:
        """Raises ``PatientNotFound`` for an unknown patient."""
        response = await self._http.request("GET", f"/patients/{self.segment(patient_id)}")
        return self._http.parse(Patient, response)

    async def list_patients(self) -> list[Patient]:
        return self._http.parse(list[Patient], await self._http.request("GET", "/patients"))
