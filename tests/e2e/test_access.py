"""Who may do what, over HTTP: every endpoint × every role × own / someone else's
appointment → the expected status (the matrix of api/security/permissions.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localstack.service import LocalService
from tests.e2e.conftest import Slots

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
def as_role(service: LocalService) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def client(role: str, subject: str) -> httpx.Client:
        token = service.token(role, subject)
        made = httpx.Client(
            base_url=service.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


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


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/appointments"), ("GET", f"/api/v1/appointments/{uuid.uuid4()}")],
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
    log = (service.infra.log_dir / "api.log").read_text()
    lines = [json.loads(line) for line in log.splitlines() if request_id in line]
    assert len(lines) == 1, "one line per request"
    line = lines[0]
    assert line["subject"] == OWNER_PATIENT
    assert line["role"] == "patient"
    assert line["status"] == 200
    assert line["route"] == "/api/v1/appointments/{appointment_id}"
    assert line["method"] == "GET"
    assert isinstance(line["duration_ms"], float)
    assert token not in log
