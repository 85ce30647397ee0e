"""The appointment's life after booking, over HTTP on the real local stack: every status
change, its refusals (which leave MongoDB exactly as it was), If-Match, concurrent
changes, Idempotency-Key, edit and entered-in-error.

The helpers at the top are shared with test_listing, test_access and test_zz_replay."""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from domain.clock import now_utc
from domain.events import EventContext
from domain.model import request, transition
from domain.status import TRANSITIONS, AppointmentStatus
from localstack.service import LocalService
from persistence import AppointmentStore, connect
from tests.e2e.conftest import Slots, counts

pytestmark = pytest.mark.e2e

S = AppointmentStatus
BASE = "/api/v1/appointments"
ACTIONS: dict[str, AppointmentStatus] = {
    "confirm": S.CONFIRMED,
    "check-in": S.CHECKED_IN,
    "complete": S.COMPLETED,
    "no-show": S.NO_SHOW,
}
PATHS: dict[AppointmentStatus, list[AppointmentStatus]] = {
    S.PENDING: [],
    S.SCHEDULED: [S.SCHEDULED],
    S.CONFIRMED: [S.SCHEDULED, S.CONFIRMED],
    S.CHECKED_IN: [S.SCHEDULED, S.CHECKED_IN],
    S.COMPLETED: [S.SCHEDULED, S.CHECKED_IN, S.COMPLETED],
    S.CANCELLED: [S.SCHEDULED, S.CANCELLED],
    S.NO_SHOW: [S.SCHEDULED, S.NO_SHOW],
    S.FAILED: [S.FAILED],
}

# Planted starts count back from yesterday in 15-minute steps from a base fixed once per
# session, so no two planted appointments overlap and none meets a bookable slot.
_YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
_STEPS = itertools.count(1)


def past_start() -> datetime:
    return _YESTERDAY - timedelta(minutes=15 * next(_STEPS))


def book(
    api: httpx.Client, slots: Slots, patient: str = "pat-anna-schmidt", doctor: str = "doc-on-call"
) -> dict[str, Any]:
    body = {"patient_id": patient, "doctor_id": doctor, "start": slots.next(doctor)}
    answer = api.post(
        BASE,
        json=body | {"duration_minutes": 15, "reason": "Lifecycle test"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def plant(
    service: LocalService,
    specs: Sequence[tuple[AppointmentStatus, str, str, datetime | None]],
) -> list[str]:
    """Appointments in any status (and with a start in the past, which no booking
    accepts), written event by event through AppointmentStore.commit as the sagas write
    them, so that their histories replay like any other. Spec: status, patient, doctor,
    start (None: the next past start)."""

    async def go() -> list[str]:
        client = await connect(service.settings)
        try:
            store = AppointmentStore(client, service.settings.kafka_topic)
            return [await _plant(store, *spec) for spec in specs]
        finally:
            await client.close()

    return asyncio.run(go())


def plant_one(service: LocalService, status: AppointmentStatus, **who: str) -> str:
    patient, doctor = who.get("patient", "pat-anna-schmidt"), who.get("doctor", "doc-on-call")
    return plant(service, [(status, patient, doctor, None)])[0]


async def _plant(
    store: AppointmentStore,
    status: AppointmentStatus,
    patient: str,
    doctor: str,
    start: datetime | None,
) -> str:
    context = EventContext(actor="staff:e2e-planter", reason="planted by a test")
    state = await store.commit(
        request(
            appointment_id=str(uuid.uuid4()),
            event_id=str(uuid.uuid4()),
            patient_id=patient,
            doctor_id=doctor,
            start=start or past_start(),
            duration_minutes=15,
            timezone="Europe/Berlin",
            reason="Planted",
            hold_id=None,
            now=now_utc(),
            context=context,
        )
    )
    for target in PATHS[status]:
        event_id = str(uuid.uuid4())
        change = transition(state, target, event_id=event_id, now=now_utc(), context=context)
        state = await store.commit(change)
    return state.id


def snapshot(mongo: Database[dict[str, Any]], appointment_id: str) -> dict[str, Any]:
    """What a refused request must leave exactly as it was."""
    return {
        "counts": counts(mongo),
        "appointment": mongo["appointments"].find_one({"_id": appointment_id}),
    }


def _stored(mongo: Database[dict[str, Any]], appointment_id: str) -> dict[str, Any]:
    row = mongo["appointments"].find_one({"_id": appointment_id})
    assert row is not None
    return row


def seqs(mongo: Database[dict[str, Any]], appointment_id: str) -> list[int]:
    rows = mongo["appointment_events"].find({"appointment_id": appointment_id}).sort("seq", 1)
    return [row["seq"] for row in rows]


def problem_type(answer: httpx.Response) -> str:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    assert answer.json()["status"] == answer.status_code
    return str(answer.json()["type"]).rsplit("/", 1)[-1]


# --- status changes -----------------------------------------------------------------


def test_confirm_check_in_and_complete_with_events_outbox_and_history(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    booked = book(api, slots)
    path = f"{BASE}/{booked['id']}"
    assert api.get(path).headers["ETag"] == '"2"'

    steps = [("confirm", "SCHEDULED", "CONFIRMED"), ("check-in", "CONFIRMED", "CHECKED_IN")]
    steps.append(("complete", "CHECKED_IN", "COMPLETED"))
    for version, (action, was, status) in enumerate(steps, start=3):
        request_id = uuid.uuid4().hex
        answer = api.post(
            f"{path}/{action}",
            json={"reason": f"{action} at the desk"},
            headers={"X-Request-ID": request_id},
        )
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["version"]) == (status, version)
        assert answer.headers["ETag"] == f'"{version}"'
        stored = mongo["appointments"].find_one({"_id": booked["id"]})
        assert stored is not None
        assert (stored["status"], stored["version"]) == (status, version)
        event = mongo["appointment_events"].find_one(
            {"appointment_id": booked["id"], "seq": version}
        )
        assert event is not None
        assert event["type"] == f"appointment.{status.lower()}"
        assert (event["actor"], event["reason"]) == (
            "staff:frontdesk-test",
            f"{action} at the desk",
        )
        assert (event["request_id"], event["workflow_id"]) == (request_id, None)
        assert (event["before"]["status"], event["after"]["status"]) == (was, status)
        assert mongo["outbox_events"].find_one({"_id": event["_id"]}) is not None

    history = api.get(f"{path}/history").json()
    assert history["appointment_id"] == booked["id"]
    assert [e["seq"] for e in history["events"]] == [1, 2, 3, 4, 5]
    assert [e["type"].removeprefix("appointment.") for e in history["events"]] == [
        "requested",
        "scheduled",
        "confirmed",
        "checked_in",
        "completed",
    ]
    assert history["events"][2]["reason"] == "confirm at the desk"
    assert history["events"][4]["after"]["status"] == "COMPLETED"
    assert seqs(mongo, booked["id"]) == [1, 2, 3, 4, 5]


def test_check_in_straight_from_scheduled(api: httpx.Client, slots: Slots) -> None:
    booked = book(api, slots)
    answer = api.post(f"{BASE}/{booked['id']}/check-in")  # no body at all
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "CHECKED_IN"
    assert answer.json()["fhir_status"] == "checked-in"


def test_a_no_show_before_the_start_is_refused(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    booked = book(api, slots)
    before = snapshot(mongo, booked["id"])
    answer = api.post(f"{BASE}/{booked['id']}/no-show", json={"reason": "not here"})
    assert answer.status_code == 409, answer.text
    assert problem_type(answer) == "no-show-before-start"
    assert "before the appointment's start time" in answer.json()["detail"]
    assert snapshot(mongo, booked["id"]) == before


def test_a_no_show_after_the_start(
    api: httpx.Client, mongo: Database[dict[str, Any]], service: LocalService
) -> None:
    for status in (S.SCHEDULED, S.CONFIRMED):
        appointment_id = plant_one(service, status)
        answer = api.post(f"{BASE}/{appointment_id}/no-show", json={"reason": "did not come"})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["fhir_status"]) == ("NO_SHOW", "noshow")
        assert _stored(mongo, appointment_id)["status"] == "NO_SHOW"


@pytest.fixture(scope="module")
def in_every_status(service: LocalService) -> dict[AppointmentStatus, str]:
    ids = plant(service, [(status, "pat-ben-okafor", "doc-on-call", None) for status in S])
    return dict(zip(S, ids, strict=True))


ILLEGAL = [
    (status, action)
    for status in S
    for action, target in ACTIONS.items()
    if target not in TRANSITIONS[status]
]


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_every_illegal_transition_is_a_409_naming_the_status_and_changes_nothing(
    status: AppointmentStatus,
    action: str,
    api: httpx.Client,
    mongo: Database[dict[str, Any]],
    in_every_status: dict[AppointmentStatus, str],
) -> None:
    appointment_id = in_every_status[status]
    before = snapshot(mongo, appointment_id)
    answer = api.post(f"{BASE}/{appointment_id}/{action}")
    assert answer.status_code == 409, answer.text
    assert problem_type(answer) == "illegal-transition"
    assert f"status {status}" in answer.json()["detail"]
    assert snapshot(mongo, appointment_id) == before


# --- optimistic concurrency and idempotency ------------------------------------------


def test_if_match_guards_the_version(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    booked = book(api, slots)
    path = f"{BASE}/{booked['id']}"
    before = snapshot(mongo, booked["id"])
    stale = api.post(f"{path}/confirm", headers={"If-Match": '"1"'})
    assert stale.status_code == 409, stale.text
    assert problem_type(stale) == "concurrent-modification"
    assert snapshot(mongo, booked["id"]) == before

    etag = api.get(path).headers["ETag"]
    fresh = api.post(f"{path}/confirm", headers={"If-Match": etag})
    assert fresh.status_code == 200, fresh.text
    assert fresh.headers["ETag"] == '"3"'
    assert api.post(f"{path}/check-in", headers={"If-Match": "*"}).status_code == 200


def _race(service: LocalService, path: str, headers: dict[str, str], n: int) -> list[int]:
    token = service.token("staff", "frontdesk-race")
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def one() -> None:
        with httpx.Client(base_url=service.api_url, timeout=60) as client:
            barrier.wait()
            answer = client.post(path, headers=headers | {"Authorization": f"Bearer {token}"})
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
    booked = book(api, slots)
    assert _race(service, f"{BASE}/{booked['id']}/confirm", headers, n) == [200] + [409] * (n - 1)
    assert seqs(mongo, booked["id"]) == [1, 2, 3]
    assert _stored(mongo, booked["id"])["version"] == 3
    assert mongo["outbox_events"].count_documents({"key": booked["id"]}) == 3


def test_a_retried_change_with_the_same_idempotency_key_changes_nothing_twice(
    api: httpx.Client, mongo: Database[dict[str, Any]], service: LocalService, slots: Slots
) -> None:
    booked = book(api, slots)
    path = f"{BASE}/{booked['id']}"
    key = {"Idempotency-Key": f"confirm-{uuid.uuid4()}"}
    first = api.post(f"{path}/confirm", headers=key, json={"reason": "phoned"})
    assert first.status_code == 200, first.text
    after_first = snapshot(mongo, booked["id"])

    again = api.post(f"{path}/confirm", headers=key, json={"reason": "phoned"})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert snapshot(mongo, booked["id"]) == after_first
    # A stale If-Match on the retry does not matter: the change was made.
    stale = key | {"If-Match": '"2"'}
    assert api.post(f"{path}/confirm", headers=stale, json={"reason": "phoned"}).status_code == 200

    # The key with another request is a client's mistake, never a silent success.
    other_reason = api.post(f"{path}/confirm", headers=key, json={"reason": "emailed"})
    assert (other_reason.status_code, problem_type(other_reason)) == (422, "idempotency-key-reused")
    admin = {"Authorization": f"Bearer {service.token('admin', 'admin-other')}"}
    other_caller = api.post(f"{path}/confirm", headers=key | admin, json={"reason": "phoned"})
    assert problem_type(other_caller) == "idempotency-key-reused"
    assert snapshot(mongo, booked["id"]) == after_first

    # Without the key, it is a new request, refused by the status machine.
    assert problem_type(api.post(f"{path}/confirm")) == "illegal-transition"
    # The same key for another change is another change.
    assert api.post(f"{path}/check-in", headers=key).json()["status"] == "CHECKED_IN"
    assert seqs(mongo, booked["id"]) == [1, 2, 3, 4]


# --- edit and entered-in-error ---------------------------------------------------------


def test_edit_changes_reason_and_notes_only(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    booked = book(api, slots)
    path = f"{BASE}/{booked['id']}"
    answer = api.patch(path, json={"notes": "Bring the blood test"})
    assert answer.status_code == 200, answer.text
    edited = answer.json()
    assert (edited["notes"], edited["reason"], edited["version"]) == (
        "Bring the blood test",
        "Lifecycle test",
        3,
    )
    assert edited["status"] == "SCHEDULED"
    key = {"Idempotency-Key": f"edit-{uuid.uuid4()}"}
    answer = api.patch(path, json={"reason": "Follow-up", "notes": None}, headers=key)
    assert (answer.json()["reason"], answer.json()["notes"]) == ("Follow-up", None)
    assert api.patch(path, json={"reason": "Follow-up", "notes": None}, headers=key).json() == (
        answer.json()
    )
    assert problem_type(api.patch(path, json={"reason": "Other"}, headers=key)) == (
        "idempotency-key-reused"
    )
    assert seqs(mongo, booked["id"]) == [1, 2, 3, 4]
    event = mongo["appointment_events"].find_one({"appointment_id": booked["id"], "seq": 4})
    assert event is not None
    assert event["type"] == "appointment.edited"
    assert event["before"] == {
        "reason": "Lifecycle test",
        "notes": "Bring the blood test",
        "updated_at": event["before"]["updated_at"],
    }
    assert set(event["after"]) == {"reason", "notes", "updated_at"}


def test_entered_in_error_keeps_the_record_as_failed(
    service: LocalService, mongo: Database[dict[str, Any]], api: httpx.Client, slots: Slots
) -> None:
    admin = {"Authorization": f"Bearer {service.token('admin', 'admin-e2e')}"}
    cancelled = plant_one(service, S.CANCELLED)
    answer = api.delete(f"{BASE}/{cancelled}", headers=admin)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["fhir_status"]) == ("FAILED", "entered-in-error")
    stored = mongo["appointments"].find_one({"_id": cancelled})
    assert stored is not None
    assert stored["status"] == "FAILED"
    last = mongo["appointment_events"].find_one({"appointment_id": cancelled, "seq": 4})
    assert last is not None
    assert last["type"] == "appointment.entered_in_error"

    # Once FAILED: neither deleted again nor edited.
    before = snapshot(mongo, cancelled)
    assert problem_type(api.delete(f"{BASE}/{cancelled}", headers=admin)) == "illegal-transition"
    assert problem_type(api.patch(f"{BASE}/{cancelled}", json={"notes": "x"})) == (
        "illegal-transition"
    )
    assert snapshot(mongo, cancelled) == before

    # One that still holds its slot must be cancelled first.
    booked = book(api, slots)
    before = snapshot(mongo, booked["id"])
    refused = api.delete(f"{BASE}/{booked['id']}", headers=admin)
    assert refused.status_code == 409, refused.text
    assert "SCHEDULED" in refused.json()["detail"]
    assert "cancel it first" in refused.json()["detail"]
    assert snapshot(mongo, booked["id"]) == before


# --- bad input ---------------------------------------------------------------------------

CHANGES = [("POST", f"/{action}") for action in ACTIONS] + [("PATCH", ""), ("DELETE", "")]

BAD: dict[str, tuple[str, dict[str, Any], int, str]] = {
    # name: (what to send, expected status, problem type)
    "id not a uuid": ("path", {}, 422, "validation-error"),
    "unknown body field": ("body", {"reason": "x", "room": "12"}, 422, "validation-error"),
    "reason not a string": ("body", {"reason": 5}, 422, "validation-error"),
    "notes not a string": ("body", {"notes": ["x"]}, 422, "validation-error"),
    "reason too long": ("body", {"reason": "x" * 501}, 422, "validation-error"),
    "body not an object": ("raw", {"content": b"[]"}, 422, "validation-error"),
    "body not json": ("raw", {"content": b"{reason"}, 422, "validation-error"),
    "If-Match unquoted": ("headers", {"If-Match": "2"}, 400, "invalid-if-match"),
    "If-Match weak": ("headers", {"If-Match": 'W/"2"'}, 400, "invalid-if-match"),
    "If-Match not a version": ("headers", {"If-Match": '"two"'}, 400, "invalid-if-match"),
    "Idempotency-Key malformed": (
        "headers",
        {"Idempotency-Key": "a b"},
        400,
        "invalid-idempotency-key",
    ),
}
BODY_CASES = {"unknown body field", "reason not a string", "reason too long"}
BODY_CASES |= {"body not an object", "body not json", "notes not a string"}


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for method, suffix in CHANGES:
        for name in BAD:
            if name in BODY_CASES and method == "DELETE":
                continue  # DELETE takes no body
            if name == "notes not a string" and method != "PATCH":
                continue
            cases.append((method, suffix, name))
    return cases


@pytest.fixture(scope="module")
def victim(api: httpx.Client, slots: Slots) -> str:
    return str(book(api, slots)["id"])


@pytest.mark.parametrize(("method", "suffix", "name"), _cases())
def test_bad_input_to_a_change_is_a_4xx_problem_and_changes_nothing(
    method: str,
    suffix: str,
    name: str,
    service: LocalService,
    mongo: Database[dict[str, Any]],
    victim: str,
) -> None:
    where, what, status, problem = BAD[name]
    admin = {"Authorization": f"Bearer {service.token('admin', 'admin-bad-input')}"}
    appointment = "not-a-uuid" if where == "path" else victim
    kwargs: dict[str, Any] = {"headers": admin | (what if where == "headers" else {})}
    if where == "body":
        kwargs["json"] = what
    elif where == "raw":
        kwargs["content"] = what["content"]
        kwargs["headers"]["Content-Type"] = "application/json"
    elif method != "DELETE":
        kwargs["json"] = {"reason": "fine"}
    before = snapshot(mongo, victim)
    with httpx.Client(base_url=service.api_url, timeout=60) as client:
        answer = client.request(method, f"{BASE}/{appointment}{suffix}", **kwargs)
    assert answer.status_code == status, answer.text
    assert problem_type(answer) == problem
    assert snapshot(mongo, victim) == before


def test_an_edit_must_name_a_field(
    api: httpx.Client, mongo: Database[dict[str, Any]], victim: str
) -> None:
    before = snapshot(mongo, victim)
    answer = api.patch(f"{BASE}/{victim}", json={})
    assert answer.status_code == 422
    assert problem_type(answer) == "validation-error"
    assert snapshot(mongo, victim) == before


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_a_change_of_a_missing_appointment_is_a_404(
    method: str, service: LocalService, mongo: Database[dict[str, Any]]
) -> None:
    admin = {"Authorization": f"Bearer {service.token('admin', 'admin-bad-input')}"}
    suffix = "/confirm" if method == "POST" else ""
    before = counts(mongo)
    answer = httpx.request(
        method,
        f"{service.api_url}{BASE}/{uuid.uuid4()}{suffix}",
        headers=admin,
        json={"notes": "x"} if method == "PATCH" else None,
    )
    assert answer.status_code == 404
    assert problem_type(answer) == "appointment-not-found"
    assert counts(mongo) == before
