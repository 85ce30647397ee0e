"""Billing Service simulator: idempotent invoices, voiding, listing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from peers.contracts import Invoice, InvoiceStatus
from simulators.billing import create_billing_app
from tests.clocks import WallClock
from tests.unit.simulators.conftest import started


def invoice_body(appointment_id: str = "apt-1", amount_cents: int = 6000) -> dict[str, Any]:
    return {
        "appointment_id": appointment_id,
        "patient_id": "pat-anna-schmidt",
        "amount_cents": amount_cents,
        "currency": "EUR",
        "description": "consultation",
    }


async def create(
    api: httpx.AsyncClient, key: str | None, body: dict[str, Any] | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await api.post("/invoices", json=body or invoice_body(), headers=headers)


def problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def test_an_invoice_is_created_once_per_key(
    billing_api: httpx.AsyncClient, clock: WallClock
) -> None:
    first = await create(billing_api, "booking-1-invoice")
    assert first.status_code == 201
    invoice = Invoice.model_validate(first.json())
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.idempotency_key == "booking-1-invoice"
    assert invoice.created_at == clock.now
    again = await create(billing_api, "booking-1-invoice")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert len((await billing_api.get("/invoices")).json()) == 1


async def test_a_key_reused_for_another_invoice_is_a_conflict(
    billing_api: httpx.AsyncClient,
) -> None:
    await create(billing_api, "k")
    reused = await create(billing_api, "k", invoice_body(amount_cents=1))
    assert problem(reused, 409) == "idempotency-key-reused"


async def test_the_key_is_required_and_the_body_validated(billing_api: httpx.AsyncClient) -> None:
    assert problem(await create(billing_api, None), 400) == "idempotency-key-missing"
    bad = await create(billing_api, "k", {**invoice_body(), "currency": "EU"})
    assert problem(bad, 422) == "validation-error"
    assert "currency" in bad.json()["detail"]


async def test_void_is_idempotent_and_a_replay_answers_the_invoice_as_it_is(
    billing_api: httpx.AsyncClient,
) -> None:
    invoice_id = (await create(billing_api, "k")).json()["id"]
    for _ in range(2):
        voided = await billing_api.post(f"/invoices/{invoice_id}/void")
        assert voided.status_code == 200
        assert voided.json()["status"] == "VOID"
    replay = await create(billing_api, "k")
    assert replay.status_code == 200
    assert replay.json()["status"] == "VOID"
    assert (await billing_api.get(f"/invoices/{invoice_id}")).json()["status"] == "VOID"


@pytest.mark.parametrize("route", ["/invoices/inv-nobody", "/invoices/inv-nobody/void"])
async def test_an_unknown_invoice_is_a_404_problem(
    billing_api: httpx.AsyncClient, route: str
) -> None:
    method = billing_api.post if route.endswith("void") else billing_api.get
    assert problem(await method(route), 404) == "invoice-not-found"


async def test_invoices_are_listed_by_appointment_and_status(
    billing_api: httpx.AsyncClient,
) -> None:
    await create(billing_api, "a", invoice_body("apt-1"))
    second = (await create(billing_api, "b", invoice_body("apt-2"))).json()
    await billing_api.post(f"/invoices/{second['id']}/void")

    async def ids(**params: str) -> list[str]:
        response = await billing_api.get("/invoices", params=params)
        return [item["appointment_id"] for item in response.json()]

    assert sorted(await ids()) == ["apt-1", "apt-2"]
    assert await ids(appointment_id="apt-2") == ["apt-2"]
    assert await ids(status="OPEN") == ["apt-1"]
    assert await ids(appointment_id="apt-1", status="VOID") == []


def saved(state_file: Path) -> dict[str, Any]:
    return dict(json.loads(state_file.read_text()))


async def test_invoices_survive_a_restart_with_a_state_file(
    tmp_path: Path, clock: WallClock
) -> None:
    state_file = tmp_path / "sim.json"
    async with started(create_billing_app, state_file, clock) as api:
        created = (await create(api, "persist")).json()
    assert [item["id"] for item in saved(state_file)["invoices"]] == [created["id"]]
    async with started(create_billing_app, state_file, clock) as api:
        replay = await create(api, "persist")
        assert replay.status_code == 200
        assert replay.json() == created
