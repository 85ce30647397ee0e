"""Our peer clients against the simulators served by real uvicorn on free ports: the happy
paths, idempotency keys, and how every failure maps onto our errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from config import load_settings
from domain.errors import (
    BillingRefused,
    DoctorNotFound,
    PatientNotFound,
    PeerUnavailable,
    SlotNotOffered,
    SlotUnavailable,
)
from peers import Peers
from peers.contracts import HoldStatus, InvoiceStatus
from peers.http import PeerContractError, PeerName, error_for
from peers.patients import PatientClient
from tests.integration.peers.conftest import (
    ON_CALL,
    Urls,
    free_port,
    hold_request,
    invoice_request,
    peers_of,
    running_simulators,
    set_fault,
    tomorrow,
)


@pytest.fixture
async def peers(urls: Urls) -> AsyncIterator[Peers]:
    peers = peers_of(urls, peer_timeout_seconds=1.0)
    yield peers
    await peers.aclose()
    async with httpx.AsyncClient() as client:
        for url in urls.values():
            await client.post(f"{url}/_sim/reset")


async def test_patients(peers: Peers) -> None:
    assert (await peers.patients.get_patient("pat-anna-schmidt")).name == "Anna Schmidt"
    assert len(await peers.patients.list_patients()) >= 8
    with pytest.raises(PatientNotFound):
        await peers.patients.get_patient("pat-nobody")


async def test_doctors(peers: Peers) -> None:
    assert ON_CALL in {doctor.id for doctor in await peers.doctors.list_doctors()}
    assert (await peers.doctors.get_doctor(ON_CALL)).slot_minutes == 15
    with pytest.raises(DoctorNotFound):
        await peers.doctors.get_doctor("doc-nobody")
    with pytest.raises(ValueError, match="aware"):
        await peers.doctors.availability(ON_CALL, datetime(2030, 1, 1), datetime(2030, 1, 2))


async def test_hold_confirm_release_with_idempotency_keys(peers: Peers) -> None:
    doctors = peers.doctors
    free = await doctors.availability(ON_CALL, *tomorrow())
    slot = free.slots[0]
    held = await doctors.hold_slot(ON_CALL, hold_request(slot.start), "booking-1-hold")
    assert held.status is HoldStatus.HELD
    assert (await doctors.hold_slot(ON_CALL, hold_request(slot.start), "booking-1-hold")) == held
    with pytest.raises(SlotUnavailable):
        await doctors.hold_slot(ON_CALL, hold_request(slot.start), "booking-2-hold")
    with pytest.raises(SlotNotOffered):
        await doctors.hold_slot(ON_CALL, hold_request(slot.start + timedelta(minutes=5)), "x")
    after = await doctors.availability(ON_CALL, free.from_, free.to)
    assert slot not in after.slots
    assert (await doctors.confirm_hold(held.id)).status is HoldStatus.CONFIRMED
    confirmed = await doctors.list_holds(doctor_id=ON_CALL, status=HoldStatus.CONFIRMED)
    assert [hold.id for hold in confirmed] == [held.id]
    released = await doctors.release_hold(held.id)
    assert released is not None
    assert released.status is HoldStatus.RELEASED
    assert await doctors.release_hold("hold-nobody") is None
    with pytest.raises(PeerContractError):  # confirming what we released is our bug
        await doctors.confirm_hold(held.id)


async def test_invoices_with_idempotency_keys(peers: Peers) -> None:
    billing = peers.billing
    invoice = await billing.create_invoice(invoice_request(), "booking-1-invoice")
    assert (await billing.create_invoice(invoice_request(), "booking-1-invoice")) == invoice
    with pytest.raises(PeerContractError, match="idempotency-key-reused"):
        await billing.create_invoice(invoice_request(amount_cents=1), "booking-1-invoice")
    assert (await billing.void_invoice(invoice.id)).status is InvoiceStatus.VOID
    assert (await billing.void_invoice(invoice.id)).status is InvoiceStatus.VOID
    assert [item.id for item in await billing.list_invoices(appointment_id="apt-42")] == [
        invoice.id
    ]
    assert (await billing.get_invoice(invoice.id)).status is InvoiceStatus.VOID


async def test_refusals_map_to_domain_errors(peers: Peers, urls: Urls) -> None:
    slot = (await peers.doctors.availability(ON_CALL, *tomorrow())).slots[0]
    for url in urls.values():
        await set_fault(url, mode="refuse")
    with pytest.raises(PatientNotFound):
        await peers.patients.get_patient("pat-anna-schmidt")
    assert (await peers.doctors.availability(ON_CALL, *tomorrow())).slots == []
    with pytest.raises(SlotUnavailable):
        await peers.doctors.hold_slot(ON_CALL, hold_request(slot.start), "k")
    with pytest.raises(BillingRefused):
        await peers.billing.create_invoice(invoice_request(), "k")


@pytest.mark.parametrize("peer", ["patient", "doctor", "billing"])
async def test_a_failing_peer_is_unavailable(peers: Peers, urls: Urls, peer: str) -> None:
    await set_fault(urls[peer], mode="fail", times=1)
    calls = {
        "patient": peers.patients.list_patients,
        "doctor": peers.doctors.list_doctors,
        "billing": peers.billing.list_invoices,
    }
    with pytest.raises(PeerUnavailable, match="503") as raised:
        await calls[peer]()
    assert raised.value.peer == peer
    await calls[peer]()  # times=1: the next call is served


async def test_a_slow_peer_times_out_as_unavailable(urls: Urls) -> None:
    await set_fault(urls["patient"], mode="slow", delay_seconds=0.4, times=1)
    client = PatientClient(urls["patient"], timeout=0.1)
    try:
        with pytest.raises(PeerUnavailable, match="timed out"):
            await client.get_patient("pat-anna-schmidt")
    finally:
        await client.aclose()


async def test_a_peer_that_is_down_is_unavailable() -> None:
    client = PatientClient(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    try:
        with pytest.raises(PeerUnavailable, match="ConnectError"):
            await client.list_patients()
    finally:
        await client.aclose()


async def test_an_unexpected_body_is_a_contract_error() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json={"nope": 1}))
    client = PatientClient("http://patient", timeout=1, transport=transport)
    with pytest.raises(PeerContractError, match="unexpected body"):
        await client.get_patient("pat-anna-schmidt")
    await client.aclose()


def problem(code: str | None, status: int) -> httpx.Response:
    kind = f"https://clinic.example/problems/{code}" if code else "about:blank"
    return httpx.Response(status, json={"type": kind, "title": "t", "status": status})


@pytest.mark.parametrize(
    ("peer", "response", "expected"),
    [
        ("doctor", problem("slot-unavailable", 409), SlotUnavailable),
        ("doctor", problem("slot-not-offered", 422), SlotNotOffered),
        ("doctor", problem("hold-expired", 409), SlotUnavailable),
        ("doctor", problem("doctor-not-found", 404), DoctorNotFound),
        ("doctor", problem(None, 404), DoctorNotFound),
        ("doctor", problem("hold-not-found", 404), PeerContractError),
        ("patient", problem("patient-not-found", 404), PatientNotFound),
        ("patient", httpx.Response(404, text="not here"), PatientNotFound),
        ("billing", problem("payment-refused", 402), BillingRefused),
        ("billing", problem(None, 402), BillingRefused),
        ("billing", problem("idempotency-key-reused", 409), PeerContractError),
        ("billing", problem("validation-error", 422), PeerContractError),
        ("billing", httpx.Response(400, text="bad"), PeerContractError),
        ("patient", problem("peer-unavailable", 503), PeerUnavailable),
        ("patient", httpx.Response(502, text="bad gateway"), PeerUnavailable),
        ("patient", httpx.Response(429), PeerUnavailable),
    ],
)
def test_error_mapping(peer: PeerName, response: httpx.Response, expected: type) -> None:
    assert isinstance(error_for(peer, response), expected)


def test_a_success_is_no_error() -> None:
    assert error_for("patient", httpx.Response(200, json={})) is None


async def test_holds_and_invoices_survive_a_restart(tmp_path: Path) -> None:
    start, end = tomorrow()
    async with running_simulators(tmp_path) as first:
        peers = Peers.from_settings(
            load_settings(doctor_service_url=first["doctor"], billing_service_url=first["billing"])
        )
        slot = (await peers.doctors.availability(ON_CALL, start, end)).slots[0]
        held = await peers.doctors.hold_slot(ON_CALL, hold_request(slot.start), "restart-hold")
        invoice = await peers.billing.create_invoice(invoice_request(), "restart-invoice")
        await peers.aclose()
    async with running_simulators(tmp_path) as second:
        peers = Peers.from_settings(
            load_settings(
                doctor_service_url=second["doctor"], billing_service_url=second["billing"]
            )
        )
        assert held in await peers.doctors.list_holds(doctor_id=ON_CALL)
        assert await peers.billing.list_invoices(appointment_id="apt-42") == [invoice]
        await peers.aclose()
