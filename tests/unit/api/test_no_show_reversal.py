"""POST /api/v1/appointments/{id}/no-show/reversal: staff say the patient did come. 200
with the appointment (CHECKED_IN or COMPLETED, its fee void) and its ETag, 202 while the
saga runs; 403 for doctors and patients, 409 when it is no no-show or the 24 h have
passed; every bad input a 4xx problem that starts nothing, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.security.tokens import issue_local_token
from application.permissions import Role
from config import Settings
from domain import model
from domain.events import EventContext, event_id_for
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.api.conftest import NOW, nothing_started, problem_type

S = AppointmentStatus
BASE = "/api/v1/appointments"
RECORDED_AT = NOW - timedelta(minutes=45)  # the no-show, 15 minutes after its start


@pytest.fixture
async def no_show(world: World) -> Appointment:
    scheduled = await world.repository.plant(start=RECORDED_AT - timedelta(minutes=15))
    return await world.repository.commit(
        model.transition(
            scheduled,
            S.NO_SHOW,
            event_id=event_id_for(f"{scheduled.id}/no-show"),
            now=RECORDED_AT,
            context=EventContext(actor="system:journey"),
            no_show_invoice_id="inv-no-show",
        )
    )


def url(appointment_id: str) -> str:
    return f"{BASE}/{appointment_id}/no-show/reversal"


@pytest.mark.parametrize("to", ["CHECKED_IN", "COMPLETED"])
async def test_staff_reverse_a_no_show_and_its_fee_is_void(
    client: httpx.AsyncClient, world: World, no_show: Appointment, to: str
) -> None:
    answer = await client.post(
        url(no_show.id), json={"to": to, "reason": "came late"}, headers={"Idempotency-Key": "r-1"}
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["id"], body["status"], body["version"]) == (no_show.id, to, no_show.version + 2)
    assert answer.headers["ETag"] == f'"{no_show.version + 2}"'
    stored = world.repository.appointments[no_show.id]
    assert (stored.status, stored.no_show_invoice_id) == (S(to), None)
    [request] = world.sagas.requests
    assert (request.target, request.reason, request.caller.actor) == (
        to,
        "came late",
        "staff:frontdesk-1",
    )


async def test_a_retry_with_its_key_answers_the_same_and_changes_nothing_twice(
    client: httpx.AsyncClient, world: World, no_show: Appointment
) -> None:
    sent: dict[str, Any] = {"json": {"to": "COMPLETED"}, "headers": {"Idempotency-Key": "r-2"}}
    first = await client.post(url(no_show.id), **sent)
    commits = world.repository.commits

    again = await client.post(url(no_show.id), **sent)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert world.repository.commits == commits
    other = await client.post(url(no_show.id), json={"to": "CHECKED_IN"}, headers=sent["headers"])
    assert problem_type(other, 422) == "idempotency-key-reused"


async def test_a_reversal_that_outlasts_the_wait_is_202_with_where_to_look(
    client: httpx.AsyncClient, world: World, no_show: Appointment
) -> None:
    world.sagas.answer = "running"
    answer = await client.post(url(no_show.id), json={"to": "CHECKED_IN"})
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"] == f"{BASE}/{no_show.id}"
    assert answer.json()["appointment_id"] == no_show.id


@pytest.mark.parametrize(
    ("role", "subject"), [(Role.DOCTOR, "doc-on-call"), (Role.PATIENT, "pat-anna-schmidt")]
)
async def test_the_appointments_doctor_and_patient_may_not(
    client: httpx.AsyncClient,
    settings: Settings,
    world: World,
    no_show: Appointment,
    role: Role,
    subject: str,
) -> None:
    client.headers["Authorization"] = f"Bearer {issue_local_token(settings, role, subject)}"
    answer = await client.post(url(no_show.id), json={"to": "CHECKED_IN"})
    assert problem_type(answer, 403) == "forbidden"
    nothing_started(world, no_show)


async def test_24_hours_after_the_no_show_it_stays(
    client: httpx.AsyncClient, world: World, no_show: Appointment
) -> None:
    world.now = RECORDED_AT + timedelta(hours=24, minutes=1)
    answer = await client.post(url(no_show.id), json={"to": "CHECKED_IN"})
    assert problem_type(answer, 409) == "no-show-reversal-closed"
    assert "may be reversed for 24 h" in answer.json()["detail"]
    nothing_started(world, no_show)


async def test_what_is_no_no_show_is_a_409(client: httpx.AsyncClient, world: World) -> None:
    scheduled = await world.repository.plant()
    answer = await client.post(url(scheduled.id), json={"to": "CHECKED_IN"})
    assert problem_type(answer, 409) == "illegal-transition"
    nothing_started(world, scheduled)


async def test_a_missing_appointment_is_a_404(client: httpx.AsyncClient, world: World) -> None:
    answer = await client.post(
        url("0b5f2c7e-4f1a-4f3e-9a51-7c1d2e3f4a5b"), json={"to": "COMPLETED"}
    )
    assert problem_type(answer, 404) == "appointment-not-found"
    assert world.sagas.requests == []


BAD: dict[str, tuple[dict[str, Any], int, str]] = {
    # name: (what is sent, status, problem)
    "no body": ({}, 422, "validation-error"),
    "no target": ({"json": {"reason": "came late"}}, 422, "validation-error"),
    "target not a reversal's": ({"json": {"to": "SCHEDULED"}}, 422, "validation-error"),
    "target NO_SHOW": ({"json": {"to": "NO_SHOW"}}, 422, "validation-error"),
    "target in lower case": ({"json": {"to": "completed"}}, 422, "validation-error"),
    "target not a string": ({"json": {"to": 3}}, 422, "validation-error"),
    "target null": ({"json": {"to": None}}, 422, "validation-error"),
    "unknown field": ({"json": {"to": "COMPLETED", "fee": 0}}, 422, "validation-error"),
    "reason too long": ({"json": {"to": "COMPLETED", "reason": "x" * 501}}, 422,
                        "validation-error"),
    "body not an object": ({"content": b"[]"}, 422, "validation-error"),
    "body not json": ({"content": b"{to"}, 422, "validation-error"),
    "Idempotency-Key malformed": ({"json": {"to": "COMPLETED"}, "headers":
                                   {"Idempotency-Key": "a b"}}, 400, "invalid-idempotency-key"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD))
async def test_bad_input_is_a_4xx_problem_and_starts_nothing(
    client: httpx.AsyncClient, world: World, no_show: Appointment, name: str
) -> None:
    sent, status, problem = BAD[name]
    headers = {"Content-Type": "application/json", **sent.get("headers", {})}
    answer = await client.post(url(no_show.id), **{**sent, "headers": headers})
    assert problem_type(answer, status) == problem
    nothing_started(world, no_show)


async def test_an_id_that_is_no_uuid_is_a_422(client: httpx.AsyncClient, world: World) -> None:
    answer = await client.post(url("not-a-uuid"), json={"to": "COMPLETED"})
    assert problem_type(answer, 422) == "validation-error"
    assert world.sagas.requests == []
