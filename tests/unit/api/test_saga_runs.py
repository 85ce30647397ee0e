"""The REST door and Idempotency-Keys scoped to their caller (application/saga_runs.py):
two patients who send the same key each get their own booking, and a patient or doctor is
shown no saga run's ids (the answer, the 202, a read, the list, the history), which
staff are."""

from __future__ import annotations

from typing import Any

import httpx

from application.permissions import Role
from config import Settings
from tests.fakes import World
from tests.unit.api.conftest import bearer

BASE = "/api/v1/appointments"
ANNA, BEN = "pat-anna-schmidt", "pat-ben-meier"


def body(patient_id: str, hour: int) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "doctor_id": "doc-on-call",
        "start": f"2030-01-08T{hour:02d}:00:00+01:00",
        "duration_minutes": 15,
    }


def as_caller(settings: Settings, role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": bearer(settings, role, subject)}


async def test_two_patients_sending_the_same_key_each_get_their_own_booking(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    key = {"Idempotency-Key": "my-first-visit"}
    anna = await client.post(
        BASE, json=body(ANNA, 9), headers=key | as_caller(settings, Role.PATIENT, ANNA)
    )
    ben = await client.post(
        BASE, json=body(BEN, 10), headers=key | as_caller(settings, Role.PATIENT, BEN)
    )

    assert (anna.status_code, ben.status_code) == (201, 201), (anna.text, ben.text)
    assert (anna.json()["patient_id"], ben.json()["patient_id"]) == (ANNA, BEN)
    assert anna.json()["id"] != ben.json()["id"]
    assert len(world.repository.appointments) == 2


async def runs_shown(
    client: httpx.AsyncClient, appointment_id: str, pending_id: str, who: dict[str, str]
) -> set[str | None]:
    """Every saga run id the caller is shown of a stored appointment and of a booking still
    running: GET of each, the list, the stored one's history."""
    read = await client.get(f"{BASE}/{appointment_id}", headers=who)
    pending = await client.get(f"{BASE}/{pending_id}", headers=who)
    listed = await client.get(BASE, headers=who)
    history = await client.get(f"{BASE}/{appointment_id}/history", headers=who)
    assert pending.json()["status"] == "PENDING"
    events = history.json()["events"]
    assert events
    return {
        read.json()["booking_workflow_id"],
        pending.json()["workflow_id"],
        *(a["booking_workflow_id"] for a in listed.json()["items"]),
        *(e["workflow_id"] for e in events),
        *(e["run_id"] for e in events),
    }


async def test_saga_runs_are_shown_to_staff_only(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    anna = as_caller(settings, Role.PATIENT, ANNA)
    booked = await client.post(BASE, json=body(ANNA, 9), headers=anna | {"Idempotency-Key": "a1"})
    accepted = await client.post(
        BASE,
        json=body(ANNA, 10),
        headers=anna | {"Idempotency-Key": "a2", "Prefer": "respond-async"},
    )
    assert (booked.status_code, accepted.status_code) == (201, 202)
    ids = (booked.json()["id"], accepted.json()["appointment_id"])

    # Neither in the patient's answers, nor anywhere the patient or the doctor reads.
    assert (booked.json()["booking_workflow_id"], accepted.json()["workflow_id"]) == (None, None)
    for role, subject in ((Role.PATIENT, ANNA), (Role.DOCTOR, "doc-on-call")):
        assert await runs_shown(client, *ids, as_caller(settings, role, subject)) == {None}
    # The front desk (the client's own token) sees both runs.
    runs = set(world.sagas.workflow_ids)
    assert len(runs) == 2
    assert runs <= await runs_shown(client, *ids, {})
