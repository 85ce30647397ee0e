"""Client of the Doctor Service: doctors, availability and slot holds."""

from __future__ import annotations

from datetime import datetime

from application.ports import DoctorProfile
from domain.schedule import WorkingCalendar
from peers.contracts import Availability, Doctor, Hold, HoldRequest, HoldStatus
from peers.http import PeerClient


class DoctorClient(PeerClient):
    peer = "doctor"

    async def list_doctors(self) -> list[Doctor]:
        return self._http.parse(list[Doctor], await self._http.request("GET", "/doctors"))

    async def get_doctor(self, doctor_id: str) -> Doctor:
        """Raises ``DoctorNotFound`` for an unknown doctor."""
        response = await self._http.request("GET", f"/doctors/{self.segment(doctor_id)}")
        return self._http.parse(Doctor, response)

    async def profile(self, doctor_id: str) -> DoctorProfile:
        """The doctor's profile (``application.ports.Doctors``)."""
        return _profile(await self.get_doctor(doctor_id))

    async def profiles(self) -> list[DoctorProfile]:
        return [_profile(doctor) for doctor in await self.list_doctors()]

    async def calendar(self, doctor_id: str) -> WorkingCalendar:
        """The doctor's working calendar (``application.ports.DoctorCalendars``)."""
        return (await self.get_doctor(doctor_id)).calendar()

    async def availability(self, doctor_id: str, start: datetime, end: datetime) -> Availability:
        """Free slots in [start, end), answered in UTC."""
        if start.utcoffset() is None or end.utcoffset() is None:
            raise ValueError("availability needs time zone-aware instants")
        response = await self._http.request(
            "GET",
            f"/doctors/{self.segment(doctor_id)}/availability",
            params={"from": start.isoformat(), "to": end.isoformat()},
        )
        return self._http.parse(Availability, response)

    async def hold_slot(self, doctor_id: str, request: HoldRequest, idempotency_key: str) -> Hold:
        """Hold a slot. The same key always answers the same hold, so a retry after a lost
        response never holds twice. Raises ``SlotUnavailable`` or ``SlotNotOffered``."""
        path = f"/doctors/{self.segment(doctor_id)}/holds"
        return await self._http.create(path, request, idempotency_key, Hold)

    async def confirm_hold(self, hold_id: str) -> Hold:
        """Idempotent. Raises ``SlotUnavailable`` if the hold expired before this call."""
        response = await self._http.request("POST", f"/holds/{self.segment(hold_id)}/confirm")
        return self._http.parse(Hold, response)

    async def get_hold(self, hold_id: str) -> Hold | None:
        """The hold as the Doctor Service has it; None when it does not know it."""
        response = await self._http.request(
            "GET", f"/holds/{self.segment(hold_id)}", passthrough=(404,)
        )
        if response.status_code == 404:
            return None
        return self._http.parse(Hold, response)

    async def release_hold(self, hold_id: str) -> Hold | None:
        """Idempotent; None when the Doctor Service does not know the hold."""
        response = await self._http.request(
            "POST", f"/holds/{self.segment(hold_id)}/release", passthrough=(404,)
        )
        if response.status_code == 404:
            # Release runs as a compensation and must be able to finish. An unknown hold
            # holds nothing (purged, or lost with the peer's state), which is exactly what
            # releasing wants; failing here would retry a compensation forever.
            return None
        return self._http.parse(Hold, response)

    async def list_holds(
        self, doctor_id: str | None = None, status: HoldStatus | None = None
    ) -> list[Hold]:
        response = await self._http.request(
            "GET",
            "/holds",
            params={"doctor_id": doctor_id, "status": status.value if status else None},
        )
        return self._http.parse(list[Hold], response)


def _profile(doctor: Doctor) -> DoctorProfile:
    return DoctorProfile(id=doctor.id, name=doctor.name, specialty=doctor.specialty)
