"""The quotas at both doors, in-process over HTTP on the fakes: a caller past its rate of
saga-starting requests gets REST's 429 with Retry-After, and GraphQL's TOO_MANY_REQUESTS
with ``retryAfter`` (and the same header); a patient at the cap gets 409
patient-cap-reached on both; one GraphQL document starts at most one saga; and the
history comes a page at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from application.commands import encode_history_cursor
from application.permissions import Role
from config import Settings
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import FakeView, World
from tests.unit.api.conftest import (
    NOW,
    PLANTED_START,
    PROBLEM_JSON,
    AskedCalendars,
    bearer,
    nothing_started,
    problem_type,
)

BASE = "/api/v1/appointments"
BURST = 2
CAP = 2
PATIENT = "pat-anna-schmidt"


@pytest.fixture
def world(settings: Settings, app: FastAPI) -> World:
    """A World whose callers may start 2 sagas at once (then one every 2 s) and whose
    patients may hold 2 active upcoming appointments."""
    tight = settings.model_copy(
        update={
            "saga_request_burst": BURST,
            "saga_requests_per_minute": 30.0,
            "patient_max_active_appointments": CAP,
        }
    )
    world = World(settings=tight, view=FakeView(), calendars=AskedCalendars(), now=NOW)
    app.state.services = world.services
    return world


def body(n: int, patient_id: str = PATIENT) -> dict[str, Any]:
    """The n-th quarter hour of Tuesday morning on the on-call doctor's grid."""
    start = PLANTED_START + timedelta(hours=1, minutes=15 * n)
    return {
        "patient_id": patient_id,
        "doctor_id": "doc-on-call",
        "start": start.isoformat(),
        "duration_minutes": 15,
    }


def book(client: httpx.AsyncClient, n: int, patient_id: str = PATIENT) -> Any:
    headers = {"Idempotency-Key": f"book-{n}-{patient_id}"}
    return client.post(BASE, json=body(n, patient_id), headers=headers)


async def use_up_the_burst(client: httpx.AsyncClient) -> None:
    for n in range(BURST):
        answer = await book(client, n, patient_id=f"pat-{n}")
        assert answer.status_code == 201, answer.text


# --- the rate of saga-starting requests ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("", body(9, "pat-9")),
        ("/{id}/cancel", {"reason": "ill"}),
        ("/{id}/reschedule", {"start": (PLANTED_START + timedelta(days=1)).isoformat()}),
    ],
    ids=["book", "cancel", "reschedule"],
)
async def test_rest_answers_429_with_retry_after_past_the_rate(
    client: httpx.AsyncClient, world: World, path: str, payload: dict[str, Any]
) -> None:
    planted = await world.repository.plant(start=PLANTED_START, patient_id="pat-x")
    await use_up_the_burst(client)
    started = len(world.sagas.requests)

    answer = await client.post(
        BASE + path.format(id=planted.id), json=payload, headers={"Idempotency-Key": "k-last"}
    )

    assert problem_type(answer, 429) == "too-many-requests"
    assert answer.headers["Retry-After"] == "2"  # 30 a minute: a token every 2 s
    assert "retry in 2 s" in answer.json()["detail"]
    assert len(world.sagas.requests) == started
    assert world.repository.appointments[planted.id] == planted


BOOK = """mutation ($input: BookAppointmentInput!, $key: String!) {
  bookAppointment(input: $input, idempotencyKey: $key) { appointmentId }
}"""


def graphql_input(n: int, patient_id: str = PATIENT) -> dict[str, Any]:
    b = body(n, patient_id)
    return {
        "patientId": b["patient_id"],
        "doctorId": b["doctor_id"],
        "start": b["start"],
        "durationMinutes": b["duration_minutes"],
    }


async def test_graphql_answers_too_many_requests_with_retry_after(
    client: httpx.AsyncClient, world: World
) -> None:
    await use_up_the_burst(client)  # through REST: one quota for both doors
    started = len(world.sagas.requests)

    answer = await client.post(
        "/graphql",
        json={"query": BOOK, "variables": {"input": graphql_input(9, "pat-9"), "key": "k-9"}},
    )

    assert answer.status_code == 200, answer.text
    [error] = answer.json()["errors"]
    extensions = error["extensions"]
    assert (extensions["code"], extensions["status"]) == ("TOO_MANY_REQUESTS", 429)
    assert extensions["type"].endswith("/too-many-requests")
    assert extensions["retryAfter"] == 2
    assert answer.headers["Retry-After"] == "2"
    assert answer.json()["data"] == {"bookAppointment": None}
    assert len(world.sagas.requests) == started


async def test_a_graphql_answer_without_a_wait_has_no_retry_after(
    client: httpx.AsyncClient, world: World
) -> None:
    answer = await client.post(
        "/graphql",
        json={"query": BOOK, "variables": {"input": graphql_input(0), "key": "k-0"}},
    )
    assert answer.json()["data"]["bookAppointment"]["appointmentId"]
    assert "Retry-After" not in answer.headers


async def test_one_graphql_document_starts_at_most_one_saga(
    client: httpx.AsyncClient, world: World
) -> None:
    aliased = (
        "mutation ($a: BookAppointmentInput!, $b: BookAppointmentInput!) {"
        ' one: bookAppointment(input: $a, idempotencyKey: "k-a") { appointmentId }'
        ' two: bookAppointment(input: $b, idempotencyKey: "k-b") { appointmentId } }'
    )
    variables = {"a": graphql_input(0), "b": graphql_input(1)}

    answer = await client.post("/graphql", json={"query": aliased, "variables": variables})

    [error] = answer.json()["errors"]
    assert error["extensions"]["type"].endswith("/too-many-sagas")
    assert error["extensions"]["status"] == 400
    nothing_started(world)


# --- the patient's cap ------------------------------------------------------------------------


async def at_the_cap(world: World) -> list[Appointment]:
    return [
        await world.repository.plant(
            patient_id=PATIENT, doctor_id="doc-hart", start=PLANTED_START + timedelta(days=d)
        )
        for d in range(CAP)
    ]


async def test_both_doors_refuse_a_booking_over_the_cap_with_409(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    planted = await at_the_cap(world)
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, PATIENT)

    rest = await book(client, 0)
    graphql = await client.post(
        "/graphql", json={"query": BOOK, "variables": {"input": graphql_input(1), "key": "k-1"}}
    )

    assert problem_type(rest, 409) == "patient-cap-reached"
    assert f"already holds {CAP} active upcoming" in rest.json()["detail"]
    [error] = graphql.json()["errors"]
    assert (error["extensions"]["code"], error["extensions"]["status"]) == ("CONFLICT", 409)
    assert error["extensions"]["type"] == rest.json()["type"]
    nothing_started(world, *planted)


async def test_staff_book_over_the_cap_by_saying_so(
    client: httpx.AsyncClient, world: World
) -> None:
    await at_the_cap(world)
    assert (await book(client, 0)).status_code == 409

    answer = await client.post(
        BASE, json=body(0) | {"over_patient_cap": True}, headers={"Idempotency-Key": "k-over"}
    )

    assert answer.status_code == 201, answer.text
    assert world.sagas.requests[-1].over_patient_cap is True


async def test_a_patient_saying_over_patient_cap_is_refused(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    client.headers["Authorization"] = bearer(settings, Role.PATIENT, PATIENT)
    answer = await client.post(
        BASE, json=body(0) | {"over_patient_cap": True}, headers={"Idempotency-Key": "k-over"}
    )
    assert problem_type(answer, 403) == "forbidden"
    nothing_started(world)


# --- the history, a page at a time ------------------------------------------------------------


@pytest.fixture
async def changed(world: World) -> Appointment:
    """An appointment with 4 events: requested, scheduled, checked in, completed."""
    return await world.repository.plant(start=PLANTED_START, status=AppointmentStatus.COMPLETED)


async def test_the_history_comes_a_page_at_a_time(
    client: httpx.AsyncClient, changed: Appointment
) -> None:
    path = f"{BASE}/{changed.id}/history"
    seen: list[list[int]] = []
    params: dict[str, Any] = {"limit": 3}
    for _ in range(5):
        answer = await client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen.append([e["seq"] for e in page["events"]])
        if page["next_cursor"] is None:
            break
        params = {"limit": 3, "cursor": page["next_cursor"]}

    assert seen == [[1, 2, 3], [4]]
    whole = (await client.get(path)).json()  # 20 unless told
    assert ([e["seq"] for e in whole["events"]], whole["next_cursor"]) == ([1, 2, 3, 4], None)
    # Pages that end with the last event: no empty page after it.
    first = (await client.get(path, params={"limit": 2})).json()
    second = await client.get(path, params={"limit": 2, "cursor": first["next_cursor"]})
    assert ([e["seq"] for e in second.json()["events"]], second.json()["next_cursor"]) == (
        [3, 4],
        None,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "many"},
        {"cursor": "not-a-cursor"},
        {"cursor": encode_history_cursor(1)[:-2] + "!!"},
        {"page": "2"},
    ],
    ids=["limit 0", "limit 101", "limit not a number", "a made-up cursor", "a broken cursor",
         "an unknown parameter"],
)  # fmt: skip
async def test_a_bad_history_page_is_422(
    client: httpx.AsyncClient, changed: Appointment, params: dict[str, Any]
) -> None:
    answer = await client.get(f"{BASE}/{changed.id}/history", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
