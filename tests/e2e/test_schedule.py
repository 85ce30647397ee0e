"""The schedule read over REST on the real local stack: a booking made over the API
reaches the doctor's schedule through the projector process and its read view, with the
patient's and the doctor's names from their services. (A booked slot leaving the free
ones and coming back when cancelled: test_graphql's read view test, REST's free slots
included.) Who may read which schedule, the window's rules and the parameters the door
refuses are tests/unit's (application/test_schedule_reads.py, test_free_slots.py,
api/test_rest_door.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.conftest import Slots
from tests.e2e.support import DOCTOR, booked
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PATIENT = "pat-chiara-rossi"
SCHEDULE = f"/api/v1/doctors/{DOCTOR}/schedule"


def test_a_booking_shows_in_the_doctors_schedule_with_the_names(
    api: httpx.Client, slots: Slots
) -> None:
    appointment = booked(api, slots.next(), PATIENT, reason="Back pain")
    start = datetime.fromisoformat(appointment["start"])
    window = {
        "from": (start - timedelta(hours=12)).isoformat(),
        "to": (start + timedelta(hours=12)).isoformat(),
    }

    def in_schedule() -> dict[str, Any] | None:
        # The view sees PENDING first and SCHEDULED a moment later: wait for the version
        # the API answered with, not just for the row.
        answer = api.get(SCHEDULE, params=window)
        assert answer.status_code == 200, answer.text
        found = answer.json()
        entries = [a for a in found["appointments"] if a["id"] == appointment["id"]]
        return found if entries and entries[0]["updated_at"] == appointment["updated_at"] else None

    body = eventually(in_schedule, what="the booked version reached the doctor's schedule")

    assert body["doctor_id"] == DOCTOR
    assert datetime.fromisoformat(body["from"]) == datetime.fromisoformat(window["from"])
    starts = [a["start"] for a in body["appointments"]]
    assert starts == sorted(starts)
    [entry] = [a for a in body["appointments"] if a["id"] == appointment["id"]]
    assert entry == {
        "id": appointment["id"],
        "patient_id": PATIENT,
        "patient_name": "Chiara Rossi",
        "doctor_id": DOCTOR,
        "doctor_name": "Dr. Noah Fischer (on call)",
        "doctor_specialty": "general practice",
        "day": start.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat(),
        "start": appointment["start"],
        "end": appointment["end"],
        "duration_minutes": 15,
        "timezone": "Europe/Berlin",
        "status": "SCHEDULED",
        "reason": "Back pain",
        "updated_at": appointment["updated_at"],
    }
