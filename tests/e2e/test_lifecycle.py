"""The appointment's life after booking, on the real local stack: the status changes made
in one MongoDB transaction (the appointment, its event and its outbox row together), read
back as its history, and concurrent changes of one version (one wins, the event log has
no gap). Which status each change may leave, If-Match, Idempotency-Key, edits, entering
in error and every refusal are the use cases' (tests/unit/application) and the REST
door's (tests/unit/api/test_rest_door.py)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from localstack.service import LocalService
from tests.e2e.conftest import Slots, client_of
from tests.e2e.support import BASE, booked, events_of, problem_type

pytestmark = pytest.mark.e2e


def seqs(mongo: Database[dict[str, Any]], appointment_id: str) -> list[int]:
    return [event["seq"] for event in events_of(mongo, appointment_id)]


def test_confirm_check_in_and_complete_with_events_outbox_and_history(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    appointment = booked(api, slots.next())
    path = f"{BASE}/{appointment['id']}"
    assert api.get(path).headers["ETag"] == '"2"'

    steps = [("confirm", "SCHEDULED", "CONFIRMED"), ("check-in", "CONFIRMED", "CHECKED_IN")]
    steps.append(("complete", "CHECKED_IN", "COMPLETED"))
    for version, (action, was, status) in enumerate(steps, start=3):
        answer = api.post(f"{path}/{action}", json={"reason": f"{action} at the desk"})
        assert answer.status_code == 200, answer.text
        request_id = answer.headers["X-Request-ID"]
        assert (answer.json()["status"], answer.json()["version"]) == (status, version)
        stored = mongo["appointments"].find_one({"_id": appointment["id"]})
        assert stored is not None
        assert (stored["status"], stored["version"]) == (status, version)
        event = events_of(mongo, appointment["id"])[-1]
        assert (event["seq"], event["type"]) == (version, f"appointment.{status.lower()}")
        assert (event["actor"], event["reason"]) == (
            "staff:frontdesk-test",
            f"{action} at the desk",
        )
        assert (event["request_id"], event["workflow_id"]) == (request_id, None)
        assert (event["before"]["status"], event["after"]["status"]) == (was, status)
        assert mongo["outbox_events"].find_one({"_id": event["_id"]}) is not None

    history = api.get(f"{path}/history").json()
    assert history["appointment_id"] == appointment["id"]
    assert [e["type"].removeprefix("appointment.") for e in history["events"]] == [
        "requested",
        "scheduled",
        "confirmed",
        "checked_in",
        "completed",
    ]
    assert history["events"][2]["reason"] == "confirm at the desk"
    assert (
        [e["seq"] for e in history["events"]] == seqs(mongo, appointment["id"]) == [1, 2, 3, 4, 5]
    )


def _race(service: LocalService, path: str, headers: dict[str, str], n: int) -> list[int]:
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def one() -> None:
        with client_of(service, "staff", "frontdesk-race") as client:
            barrier.wait()
            answer = client.post(path, headers=headers)
            statuses.append(answer.status_code)
            assert answer.status_code == 200 or problem_type(answer) in (
                "concurrent-modification",
                "illegal-transition",
            ), answer.text

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


@pytest.mark.parametrize(("n", "headers"), [(2, {}), (6, {"If-Match": '"2"'})])
def test_concurrent_confirms_one_wins_and_the_log_has_no_gap(
    n: int,
    headers: dict[str, str],
    api: httpx.Client,
    mongo: Database[dict[str, Any]],
    service: LocalService,
    slots: Slots,
) -> None:
    appointment_id = booked(api, slots.next())["id"]

    statuses = _race(service, f"{BASE}/{appointment_id}/confirm", headers, n)

    assert statuses == [200] + [409] * (n - 1)
    assert seqs(mongo, appointment_id) == [1, 2, 3]
    stored = mongo["appointments"].find_one({"_id": appointment_id})
    assert stored is not None
    assert stored["version"] == 3
    assert mongo["outbox_events"].count_documents({"key": appointment_id}) == 3
