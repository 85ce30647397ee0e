"""The breakers of ``Peers.from_settings`` against the real simulators: a failing peer
opens its breaker, an open breaker sends nothing (the simulator's fault counter says so),
and once the reset time has passed one healthy answer closes it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from domain.errors import PeerRequestInvalid, PeerUnavailable, SlotUnavailable
from peers import Peers
from peers.breaker import BreakerOpen, BreakerState, CircuitBreaker
from peers.contracts import FaultConfig, HoldStatus
from tests.integration.peers.conftest import (
    ON_CALL,
    Urls,
    hold_request,
    invoice_request,
    peers_of,
    set_fault,
    tomorrow,
)
from tests.waiting import eventually_async

THRESHOLD = 3
RESET_SECONDS = 0.3
LOTS = 1000  # a fault armed for this many requests: what is left says how many came


@pytest.fixture
async def peers(urls: Urls) -> AsyncIterator[Peers]:
    peers = peers_of(
        urls,
        peer_timeout_seconds=0.5,
        breaker_failure_threshold=THRESHOLD,
        breaker_reset_seconds=RESET_SECONDS,
    )
    yield peers
    await peers.aclose()
    async with httpx.AsyncClient() as client:
        for url in urls.values():
            await client.post(f"{url}/_sim/reset")


def breaker_of(peers: Peers, name: str) -> CircuitBreaker:
    return next(breaker for breaker in peers.breakers if breaker.name == name)


async def requests_seen(url: str) -> int:
    """How many requests the armed fault has been applied to."""
    async with httpx.AsyncClient() as client:
        config = FaultConfig.model_validate((await client.get(f"{url}/_sim/faults")).json())
    return LOTS - (config.times or 0)


async def half_open(breaker: CircuitBreaker, within: float = 5.0) -> None:
    async def is_half_open() -> bool:
        return breaker.state is BreakerState.HALF_OPEN

    await eventually_async(is_half_open, within, f"the {breaker.name} breaker half-opens")


async def test_billing_failing_opens_the_breaker_then_fails_fast_then_closes(
    peers: Peers, urls: Urls
) -> None:
    billing, breaker = peers.billing, breaker_of(peers, "billing")
    await set_fault(urls["billing"], mode="fail", times=LOTS)

    for _ in range(THRESHOLD):
        with pytest.raises(PeerUnavailable, match="503"):
            await billing.create_invoice(invoice_request(), "breaker-invoice")
    assert breaker.state is BreakerState.OPEN
    for _ in range(10):
        with pytest.raises(BreakerOpen) as raised:
            await billing.create_invoice(invoice_request(), "breaker-invoice")
    assert raised.value.peer == "billing"
    assert await requests_seen(urls["billing"]) == THRESHOLD  # none of the 10 was sent

    await set_fault(urls["billing"], mode="ok")
    await half_open(breaker)
    invoice = await billing.create_invoice(invoice_request(), "breaker-invoice")
    assert invoice.appointment_id == "apt-42"
    assert breaker.state is BreakerState.CLOSED
    assert breaker.opened_total == 1


async def test_a_failed_trial_opens_the_breaker_again(peers: Peers, urls: Urls) -> None:
    breaker = breaker_of(peers, "patient")
    await set_fault(urls["patient"], mode="fail", times=LOTS)
    for _ in range(THRESHOLD):
        with pytest.raises(PeerUnavailable):
            await peers.patients.list_patients()
    await half_open(breaker)

    with pytest.raises(PeerUnavailable, match="503"):  # the trial reached the simulator
        await peers.patients.list_patients()
    assert breaker.state is BreakerState.OPEN
    assert breaker.opened_total == 2
    assert await requests_seen(urls["patient"]) == THRESHOLD + 1


async def test_timeouts_count_as_failures(peers: Peers, urls: Urls) -> None:
    await set_fault(urls["patient"], mode="slow", delay_seconds=1.0, times=THRESHOLD)
    for _ in range(THRESHOLD):
        with pytest.raises(PeerUnavailable, match="timed out"):
            await peers.patients.get_patient("pat-anna-schmidt")
    assert breaker_of(peers, "patient").state is BreakerState.OPEN


async def test_refusals_never_open_the_breaker(peers: Peers, urls: Urls) -> None:
    slot = (await peers.doctors.availability(ON_CALL, *tomorrow())).slots[0]
    await set_fault(urls["doctor"], mode="refuse")
    for attempt in range(THRESHOLD * 3):
        with pytest.raises(SlotUnavailable):
            await peers.doctors.hold_slot(ON_CALL, hold_request(slot.start), f"k-{attempt}")
    assert breaker_of(peers, "doctor").state is BreakerState.CLOSED


async def test_each_peer_has_its_own_breaker(peers: Peers, urls: Urls) -> None:
    await set_fault(urls["billing"], mode="fail", times=LOTS)
    for _ in range(THRESHOLD):
        with pytest.raises(PeerUnavailable):
            await peers.billing.list_invoices()
    assert (await peers.patients.get_patient("pat-anna-schmidt")).id == "pat-anna-schmidt"
    assert {b.name: b.state.value for b in peers.breakers} == {
        "patient": "closed",
        "doctor": "closed",
        "billing": "open",
    }


async def test_a_request_our_client_cannot_send_is_a_bug_and_never_opens_the_breaker(
    peers: Peers,
) -> None:
    """The review's case: a key with a trailing newline made an Idempotency-Key header that
    h11 refuses to send. Five such "failures" opened the worker's Doctor breaker and the
    next ordinary booking answered 503. A request that cannot even be sent is a bug of the
    caller's, not an outage of the peer."""
    slot = (await peers.doctors.availability(ON_CALL, *tomorrow())).slots[0]
    for _ in range(THRESHOLD * 3):
        with pytest.raises(PeerRequestInvalid):
            await peers.doctors.hold_slot(ON_CALL, hold_request(slot.start), "booking-x1\n/hold")
    assert breaker_of(peers, "doctor").state is BreakerState.CLOSED
    hold = await peers.doctors.hold_slot(ON_CALL, hold_request(slot.start), "booking-x1/hold")
    assert hold.status is HoldStatus.HELD


@pytest.mark.parametrize("doctor_id", ["..", ".", ""])
async def test_a_dot_segment_never_reaches_the_peer_as_another_path(
    peers: Peers, doctor_id: str
) -> None:
    """``freeSlots(doctorId: "..")`` asked the Doctor Service for ``/`` and answered 500."""
    for _ in range(THRESHOLD * 2):
        with pytest.raises(PeerRequestInvalid):
            await peers.doctors.availability(doctor_id, *tomorrow())
    assert breaker_of(peers, "doctor").state is BreakerState.CLOSED


async def test_voiding_an_invoice_billing_does_not_know_is_done(peers: Peers) -> None:
    assert await peers.billing.void_invoice("inv-never-issued") is None
    assert breaker_of(peers, "billing").state is BreakerState.CLOSED
