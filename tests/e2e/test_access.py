"""Who may do what, over HTTP: every endpoint × every role × own / someone else's
appointment → the expected status (the matrix of api/security/permissions.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from domain.status import AppointmentStatus
from localstack.service import LocalService
from tests.e2e.conftest import Slots, log_lines
from tests.e2e.test_lifecycle import plant_one, snapshot

pytestmark = pytest.mark.e2e

OWNER_PATIENT = "pat-chiara-rossi"
OTHER_PATIENT = "pat-david-kim"
OWNER_DOCTOR = "doc-on-call"
OTHER_DOCTOR = "doc-amelia-hart"

# (role, subject) -> expected status when booking for OWNER_PATIENT
BOOK: list[tuple[str, str, int]] = [
    ("admin", "admin-1", 201),
    ("staff", "frontdesk-1", 201),
    ("doctor", OWNER_DOCTOR, 403),
    ("patient", OWNER_PATIENT, 201),
    ("patient", OTHER_PATIENT, 403),
]

# (role, subject) -> expected status when reading OWNER_PATIENT's appointment with OWNER_DOCTOR
READ: list[tuple[str, str, int]] = [
    ("admin", "admin-1", 200),
    ("staff", "frontdesk-1", 200),
    ("doctor", OWNER_DOCTOR, 200),
    ("doctor", OTHER_DOCTOR, 404),
    ("doctor", OWNER_PATIENT, 404),  # a doctor's subject never matches a patient id
    ("patient", OWNER_PATIENT, 200),
    ("patient", OTHER_PATIENT, 404),
]


@pytest.fixture(scope="module")
def appointment(api: httpx.Client, slots: Slots) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/appointments",
        json={
            "patient_id": OWNER_PATIENT,
            "doctor_id": OWNER_DOCTOR,
            "start": slots.next(),
            "duration_minutes": 15,
        },
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.mark.parametrize(("role", "subject", "expected"), BOOK)
def test_book(role: str, subject: str, expected: int, as_role: Any, slots: Slots) -> None:
    answer = as_role(role, subject).post(
        "/api/v1/appointments",
        json={
            "patient_id": OWNER_PATIENT,
            "doctor_id": OWNER_DOCTOR,
            "start": slots.next(),
            "duration_minutes": 15,
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == expected, answer.text
    if expected == 201:
        created = answer.json()
        assert created["patient_id"] == OWNER_PATIENT
    else:
        assert answer.json()["type"].endswith("/forbidden")


@pytest.mark.parametrize(("role", "subject", "expected"), READ)
def test_read(
    role: str, subject: str, expected: int, as_role: Any, appointment: dict[str, Any]
) -> None:
    answer = as_role(role, subject).get(f"/api/v1/appointments/{appointment['id']}")
    assert answer.status_code == expected, answer.text
    if expected == 200:
        assert answer.json()["id"] == appointment["id"]
    else:
        # Someone else's appointment reads exactly like one that does not exist.
        missing = as_role(role, subject).get(f"/api/v1/appointments/{uuid.uuid4()}")
        assert answer.json()["type"] == missing.json()["type"]
        assert answer.json()["title"] == missing.json()["title"]
        assert OWNER_PATIENT not in answer.text


CALLERS: list[tuple[str, str]] = [
    ("admin", "admin-1"),
    ("staff", "frontdesk-1"),
    ("doctor", OWNER_DOCTOR),
    ("doctor", OTHER_DOCTOR),
    ("patient", OWNER_PATIENT),
    ("patient", OTHER_PATIENT),
]

S = AppointmentStatus
# door: (method, path suffix, body, the status it needs, the status it makes)
DOORS: dict[str, tuple[str, str, Any, S, S | None]] = {
    "confirm": ("POST", "/confirm", None, S.SCHEDULED, S.CONFIRMED),
    "check-in": ("POST", "/check-in", None, S.SCHEDULED, S.CHECKED_IN),
    "complete": ("POST", "/complete", None, S.CHECKED_IN, S.COMPLETED),
    "no-show": ("POST", "/no-show", None, S.CONFIRMED, S.NO_SHOW),
    "edit": ("PATCH", "", {"notes": "n"}, S.SCHEDULED, S.SCHEDULED),
    "delete": ("DELETE", "", None, S.CANCELLED, S.FAILED),
    "history": ("GET", "/history", None, S.COMPLETED, None),
    # the sagas (a planted appointment has no hold or invoice: the peers' steps are skipped)
    "cancel": ("POST", "/cancel", {"reason": "r"}, S.SCHEDULED, S.CANCELLED),
    "reschedule": ("POST", "/reschedule", "a free slot", S.SCHEDULED, S.SCHEDULED),
}
# door: the expected status for each of CALLERS, in order: the README's matrix
# "Tokens and who may do what" (403: the role never may; 404: someone else's).
EXPECTED: dict[str, tuple[int, ...]] = {
    #            admin staff own-doc other-doc own-pat other-pat
    "confirm": (200, 200, 403, 403, 403, 403),
    "check-in": (200, 200, 200, 404, 403, 403),
    "complete": (200, 200, 200, 404, 403, 403),
    "no-show": (200, 200, 200, 404, 403, 403),
    "edit": (200, 200, 403, 403, 200, 404),
    "delete": (200, 403, 403, 403, 403, 403),
    "history": (200, 200, 200, 404, 200, 404),
    "cancel": (200, 200, 403, 403, 200, 404),
    "reschedule": (200, 200, 403, 403, 200, 404),
}
DOOR_CASES = [
    (door, role, subject, EXPECTED[door][index])
    for door in DOORS
    for index, (role, subject) in enumerate(CALLERS)
]


@pytest.mark.parametrize(
    ("door", "role", "subject", "expected"),
    DOOR_CASES,
    ids=[f"{door}-{role}-{subject}" for door, role, subject, _ in DOOR_CASES],
)
def test_every_door_of_the_lifecycle(
    door: str,
    role: str,
    subject: str,
    expected: int,
    as_role: Any,
    service: LocalService,
    mongo: Database[dict[str, Any]],
    slots: Slots,
) -> None:
    method, suffix, body, needs, becomes = DOORS[door]
    if body == "a free slot":
        body = {"start": slots.next()}
    # A fresh appointment of OWNER_PATIENT with OWNER_DOCTOR in the status the door needs,
    # started in the past (a no-show needs that), so an allowed call succeeds.
    appointment_id = plant_one(service, needs, patient=OWNER_PATIENT, doctor=OWNER_DOCTOR)
    before = snapshot(mongo, appointment_id)
    client = as_role(role, subject)
    path = f"/api/v1/appointments/{appointment_id}{suffix}"
    sent = {"json": body} if body else {}
    answer = client.request(method, path, **sent)

    assert answer.status_code == expected, answer.text
    if expected == 200:
        stored = mongo["appointments"].find_one({"_id": appointment_id})
        assert stored is not None
        assert stored["status"] == (becomes or needs)
        return
    assert snapshot(mongo, appointment_id) == before
    assert answer.headers["content-type"] == "application/problem+json"
    if expected == 403:
        assert answer.json()["type"].endswith("/forbidden")
    else:
        # Someone else's appointment reads exactly like one that does not exist.
        missing = client.request(method, f"/api/v1/appointments/{uuid.uuid4()}{suffix}", **sent)
        assert (answer.status_code, answer.json()["type"], answer.json()["title"]) == (
            missing.status_code,
            missing.json()["type"],
            missing.json()["title"],
        )
        assert OWNER_PATIENT not in answer.text
        assert appointment_id not in answer.json().get("detail", "")


@pytest.mark.parametrize(("role", "subject"), CALLERS)
def test_a_list_shows_each_caller_exactly_what_they_may_read(
    role: str,
    subject: str,
    as_role: Any,
    mongo: Database[dict[str, Any]],
    appointment: dict[str, Any],
) -> None:
    client = as_role(role, subject)
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        answer = client.get("/api/v1/appointments", params=params)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        if answer.json()["next_cursor"] is None:
            break
        params["cursor"] = answer.json()["next_cursor"]
    field = {"patient": "patient_id", "doctor": "doctor_id"}.get(role)
    if field is None:
        assert len(items) == mongo["appointments"].count_documents({})
    else:
        assert all(item[field] == subject for item in items)
        assert len(items) == mongo["appointments"].count_documents({field: subject})
        # Naming the owner of the module's appointment changes nothing for anybody else.
        named = client.get(
            "/api/v1/appointments",
            params={"patient_id": OWNER_PATIENT, "doctor_id": OWNER_DOCTOR},
        ).json()["items"]
        assert all(item[field] == subject for item in named)
    visible = appointment["id"] in {item["id"] for item in items}
    # Listed exactly when it can be read (test_read's matrix).
    assert visible == any((r, c, e) == (role, subject, 200) for r, c, e in READ)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/appointments"),
        ("GET", "/api/v1/appointments"),
        ("GET", f"/api/v1/appointments/{uuid.uuid4()}"),
        ("GET", f"/api/v1/appointments/{uuid.uuid4()}/history"),
        ("POST", f"/api/v1/appointments/{uuid.uuid4()}/confirm"),
        ("POST", f"/api/v1/appointments/{uuid.uuid4()}/check-in"),
        ("POST", f"/api/v1/appointments/{uuid.uuid4()}/complete"),
        ("POST", f"/api/v1/appointments/{uuid.uuid4()}/no-show"),
        ("PATCH", f"/api/v1/appointments/{uuid.uuid4()}"),
        ("DELETE", f"/api/v1/appointments/{uuid.uuid4()}"),
        ("POST", f"/api/v1/appointments/{uuid.uuid4()}/cancel"),
        ("POST", f"/api/v1/appointments/{uuid.uuid4()}/reschedule"),
    ],
)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
def test_without_a_valid_token_every_endpoint_answers_401(
    method: str, path: str, authorization: str | None, anonymous: httpx.Client
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = anonymous.request(method, path, headers=headers, json={})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_probes_and_docs_need_no_token(anonymous: httpx.Client) -> None:
    for path in ("/health/live", "/health/ready", "/docs", "/openapi.json"):
        assert anonymous.get(path).status_code == 200, path


def test_swagger_offers_the_bearer_authorize_button(anonymous: httpx.Client) -> None:
    spec = anonymous.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["Bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["Bearer"]["description"],
    }
    post = spec["paths"]["/api/v1/appointments"]["post"]
    assert post["security"] == [{"Bearer": []}]


def test_an_oversized_body_is_refused_with_413(api: httpx.Client) -> None:
    answer = api.post(
        "/api/v1/appointments",
        content=b'{"reason": "' + b"x" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_request_log_names_the_caller_but_never_the_token(
    service: LocalService, as_role: Any, appointment: dict[str, Any]
) -> None:
    token_client = as_role("patient", OWNER_PATIENT)
    request_id = uuid.uuid4().hex
    answer = token_client.get(
        f"/api/v1/appointments/{appointment['id']}", headers={"X-Request-ID": request_id}
    )
    assert answer.headers["X-Request-ID"] == request_id
    token = token_client.headers["Authorization"].removeprefix("Bearer ")
    lines = log_lines(service, "api", request_id)
    assert len(lines) == 1, "one line per request"
    line = lines[0]
    assert line["subject"] == OWNER_PATIENT
    assert line["role"] == "patient"
    assert line["status"] == 200
    assert line["route"] == "/api/v1/appointments/{appointment_id}"
    assert line["method"] == "GET"
    assert isinstance(line["duration_ms"], float)
    assert token not in (service.infra.log_dir / "api.log").read_text()


def test_a_patient_or_doctor_sees_who_changed_it_by_role_only(
    as_role: Any, appointment: dict[str, Any]
) -> None:
    path = f"/api/v1/appointments/{appointment['id']}/history"
    staff_view = as_role("admin", "admin-1").get(path).json()["events"]
    assert {e["actor"] for e in staff_view} == {"staff:frontdesk-test"}
    for role, subject in (("patient", OWNER_PATIENT), ("doctor", OWNER_DOCTOR)):
        answer = as_role(role, subject).get(path)
        assert answer.status_code == 200, answer.text
        events = answer.json()["events"]
        assert [e["seq"] for e in events] == [e["seq"] for e in staff_view]
        assert {e["actor"] for e in events} == {"staff"}
        assert all(e["request_id"] is None for e in events)
        assert "frontdesk-test" not in answer.text
