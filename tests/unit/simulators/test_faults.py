"""Faults switched on at run time: slow, fail, refuse, ok, and ``times``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from simulators.seed_data import DOCTORS

SERVICES = ["patient", "doctor", "billing"]
# One business route per simulator with no natural refusal.
PLAIN_ROUTE = {"patient": "/patients", "doctor": "/doctors", "billing": "/invoices"}
MONDAY_9 = "2030-01-07T09:00:00+01:00"


@pytest.fixture(params=SERVICES)
def api(request: pytest.FixtureRequest) -> tuple[str, httpx.AsyncClient]:
    name: str = request.param
    client: httpx.AsyncClient = request.getfixturevalue(f"{name}_api")
    return name, client


def problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def set_fault(api: httpx.AsyncClient, **config: Any) -> None:
    response = await api.put("/_sim/faults", json=config)
    assert response.status_code == 200, response.text


async def hold(api: httpx.AsyncClient, key: str) -> httpx.Response:
    body = {
        "start": MONDAY_9,
        "duration_minutes": 30,
        "patient_id": "pat-ben-okafor",
        "ttl_seconds": 60,
    }
    return await api.post(
        "/doctors/doc-amelia-hart/holds", json=body, headers={"Idempotency-Key": key}
    )


async def invoice(api: httpx.AsyncClient, key: str) -> httpx.Response:
    body = {
        "appointment_id": "apt-1",
        "patient_id": "pat-ben-okafor",
        "amount_cents": 6000,
        "currency": "EUR",
    }
    return await api.post("/invoices", json=body, headers={"Idempotency-Key": key})


async def test_faults_start_ok_and_bad_configs_are_refused(
    api: tuple[str, httpx.AsyncClient],
) -> None:
    _, client = api
    current = await client.get("/_sim/faults")
    assert current.json() == {"mode": "ok", "delay_seconds": 0.0, "times": None}
    assert problem(await client.put("/_sim/faults", json={"mode": "explode"}), 422) == (
        "validation-error"
    )


async def test_fail_answers_503_on_business_routes_but_never_on_control_routes(
    api: tuple[str, httpx.AsyncClient],
) -> None:
    name, client = api
    await set_fault(client, mode="fail")
    assert problem(await client.get(PLAIN_ROUTE[name]), 503) == "peer-unavailable"
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/_sim/faults")).json()["mode"] == "fail"
    await set_fault(client, mode="ok")
    assert (await client.get(PLAIN_ROUTE[name])).status_code == 200


async def test_times_limits_how_many_requests_suffer(api: tuple[str, httpx.AsyncClient]) -> None:
    name, client = api
    await set_fault(client, mode="fail", times=2)
    assert (await client.get(PLAIN_ROUTE[name])).status_code == 503
    assert (await client.get("/_sim/faults")).json()["times"] == 1
    assert (await client.get(PLAIN_ROUTE[name])).status_code == 503
    assert (await client.get(PLAIN_ROUTE[name])).status_code == 200
    assert (await client.get("/_sim/faults")).json()["mode"] == "ok"


async def test_slow_answers_correctly_after_the_delay(api: tuple[str, httpx.AsyncClient]) -> None:
    name, client = api
    await set_fault(client, mode="slow", delay_seconds=0.05)
    started = time.perf_counter()
    response = await client.get(PLAIN_ROUTE[name])
    assert time.perf_counter() - started >= 0.05
    assert response.status_code == 200
    started = time.perf_counter()
    await client.get("/health")
    assert time.perf_counter() - started < 0.05


async def test_refuse_makes_the_patient_unknown(patient_api: httpx.AsyncClient) -> None:
    await set_fault(patient_api, mode="refuse")
    assert problem(await patient_api.get("/patients/pat-anna-schmidt"), 404) == (
        "patient-not-found"
    )
    assert (await patient_api.get("/patients")).status_code == 200


async def test_refuse_takes_the_doctors_slots(doctor_api: httpx.AsyncClient) -> None:
    await set_fault(doctor_api, mode="refuse")
    assert problem(await hold(doctor_api, "k"), 409) == "slot-unavailable"
    free = await doctor_api.get(
        "/doctors/doc-amelia-hart/availability",
        params={"from": MONDAY_9, "to": "2030-01-07T12:00:00+01:00"},
    )
    assert free.status_code == 200
    assert free.json()["slots"] == []
    assert (await doctor_api.get("/doctors")).status_code == 200


async def test_refuse_makes_billing_refuse_payment(billing_api: httpx.AsyncClient) -> None:
    await set_fault(billing_api, mode="refuse")
    assert problem(await invoice(billing_api, "k"), 402) == "payment-refused"
    assert (await billing_api.get("/invoices")).json() == []


async def test_a_counted_refusal_is_spent_only_where_it_refuses(
    doctor_api: httpx.AsyncClient,
) -> None:
    await set_fault(doctor_api, mode="refuse", times=1)
    assert (await doctor_api.get("/doctors")).status_code == 200
    assert (await doctor_api.get("/holds")).status_code == 200
    assert (await hold(doctor_api, "first")).status_code == 409
    assert (await hold(doctor_api, "second")).status_code == 201


async def test_an_idempotent_replay_answers_as_before_despite_a_refusal(
    billing_api: httpx.AsyncClient,
) -> None:
    created = await invoice(billing_api, "k")
    await set_fault(billing_api, mode="refuse")
    replay = await invoice(billing_api, "k")
    assert replay.status_code == 200
    assert replay.json() == created.json()
    assert (await invoice(billing_api, "other")).status_code == 402


async def test_reset_clears_faults_and_own_transient_state_but_keeps_seeds(
    doctor_api: httpx.AsyncClient, billing_api: httpx.AsyncClient
) -> None:
    assert (await hold(doctor_api, "k")).status_code == 201
    assert (await invoice(billing_api, "k")).status_code == 201
    await set_fault(billing_api, mode="fail")
    assert (await billing_api.post("/_sim/reset")).status_code == 204
    assert (await billing_api.get("/_sim/faults")).json()["mode"] == "ok"
    assert (await billing_api.get("/invoices")).json() == []
    assert len((await doctor_api.get("/holds")).json()) == 1  # billing's reset is billing's
    assert (await doctor_api.post("/_sim/reset")).status_code == 204
    assert (await doctor_api.get("/holds")).json() == []
    assert len((await doctor_api.get("/doctors")).json()) == len(DOCTORS)
