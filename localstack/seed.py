"""Sample appointments, booked through the API like any other: each runs the real saga,
so it has its events, outbox rows, invoice and a run in the Temporal Web UI. And one
patient on the waitlist for the first doctor's week, so that cancelling one of that
doctor's appointments starts an offer round to watch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from loguru import logger

# Each doctor gets this many sample appointments, with patients taken in turn.
PER_DOCTOR = 2
# Who waits, and for whom: the first doctor's sample appointments are in the window.
WAITING_PATIENT = "pat-anna-schmidt"
WAITED_FOR_DOCTOR = "doc-amelia-hart"


async def seed(
    api_url: str, doctor_url: str, patient_url: str, token: str, now: datetime | None = None
) -> int:
    """Book sample appointments in the first free slots from tomorrow on; returns how many
    were booked. Idempotency keys name doctor and slot, so a repeated run books nothing
    twice."""
    now = now or datetime.now(UTC)
    async with httpx.AsyncClient(timeout=30) as http:
        doctors = (await http.get(f"{doctor_url}/doctors")).raise_for_status().json()
        patients = (await http.get(f"{patient_url}/patients")).raise_for_status().json()
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        booked = 0
        for index, doctor in enumerate(doctors):
            window = {
                "from": tomorrow.isoformat(),
                "to": (tomorrow + timedelta(days=7)).isoformat(),
            }
            availability = await http.get(
                f"{doctor_url}/doctors/{doctor['id']}/availability", params=window
            )
            slots = availability.raise_for_status().json()["slots"][:PER_DOCTOR]
            for offset, slot in enumerate(slots):
                patient = patients[(index * PER_DOCTOR + offset) % len(patients)]
                body = {
                    "patient_id": patient["id"],
                    "doctor_id": doctor["id"],
                    "start": slot["start"],
                    "duration_minutes": doctor["slot_minutes"],
                    "reason": "Sample appointment",
                }
                key = f"seed-{doctor['id']}-{slot['start']}".replace("+", "Z")
                answer = await http.post(
                    f"{api_url}/api/v1/appointments",
                    json=body,
                    headers={"Idempotency-Key": key, "Authorization": f"Bearer {token}"},
                )
                if answer.status_code in (201, 202):
                    booked += 1
                else:
                    logger.warning("sample booking refused: {} {}", answer.status_code, answer.text)
    return booked


async def seed_waitlist(
    api_url: str, doctor_url: str, token: str, now: datetime | None = None
) -> str | None:
    """Put ``WAITING_PATIENT`` on the waitlist for ``WAITED_FOR_DOCTOR`` from tomorrow
    on for a week (the window of the sample appointments); the entry's id, or None if the
    API refused. The key names the day, so a repeated run adds nothing twice."""
    now = now or datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    async with httpx.AsyncClient(timeout=30) as http:
        doctor = (await http.get(f"{doctor_url}/doctors/{WAITED_FOR_DOCTOR}")).raise_for_status()
        body = {
            "patient_id": WAITING_PATIENT,
            "doctor_id": WAITED_FOR_DOCTOR,
            "earliest_start": tomorrow.isoformat(),
            "latest_start": (tomorrow + timedelta(days=7)).isoformat(),
            "duration_minutes": doctor.json()["slot_minutes"],
            "priority": "routine",
        }
        answer = await http.post(
            f"{api_url}/api/v1/waitlist",
            json=body,
            headers={
                "Idempotency-Key": f"seed-waitlist-{tomorrow:%Y%m%d}",
                "Authorization": f"Bearer {token}",
            },
        )
    if answer.status_code not in (200, 201):
        logger.warning("sample waitlist entry refused: {} {}", answer.status_code, answer.text)
        return None
    return str(answer.json()["id"])
