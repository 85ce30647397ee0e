"""The peer clients behind their breakers, on httpx's MockTransport: what reaches the
wire, and what the breaker makes of each answer."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from config import load_settings
from domain.errors import PeerUnavailable, SlotUnavailable
from peers import Peers
from peers.breaker import BreakerOpen, BreakerState, CircuitBreaker
from peers.contracts import HoldRequest
from peers.doctors import DoctorClient
from peers.patients import PatientClient

PATIENT = {"id": "pat-1", "name": "Anna", "email": "anna@example.org"}


class Peer:
    """A scripted peer that counts what reaches it."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self.answer(request)


def unavailable(_: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"title": "down", "status": 503})


def patients(peer: Peer, breaker: CircuitBreaker | None) -> PatientClient:
    return PatientClient("http://patient", 1, transport=httpx.MockTransport(peer), breaker=breaker)


async def test_transient_answers_open_the_breaker_and_then_nothing_is_sent() -> None:
    peer = Peer(unavailable)
    breaker = CircuitBreaker("patient", failure_threshold=3, reset_seconds=60)
    client = patients(peer, breaker)
    for _ in range(3):
        with pytest.raises(PeerUnavailable, match="503"):
            await client.get_patient("pat-1")
    for _ in range(5):
        with pytest.raises(BreakerOpen):
            await client.get_patient("pat-1")
    assert peer.requests == 3
    assert breaker.state is BreakerState.OPEN
    await client.aclose()


async def test_connection_errors_count_as_transient() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    breaker = CircuitBreaker("patient", failure_threshold=2)
    client = patients(Peer(refused), breaker)
    for _ in range(2):
        with pytest.raises(PeerUnavailable, match="ConnectError"):
            await client.list_patients()
    assert breaker.state is BreakerState.OPEN
    await client.aclose()


async def test_business_refusals_keep_the_breaker_closed() -> None:
    def taken(_: httpx.Request) -> httpx.Response:
        problem = {"type": "https://x/problems/slot-unavailable", "title": "t", "status": 409}
        return httpx.Response(409, json=problem)

    breaker = CircuitBreaker("doctor", failure_threshold=1)
    client = DoctorClient("http://doctor", 1, transport=httpx.MockTransport(taken), breaker=breaker)
    request = HoldRequest.model_validate(
        {"start": "2030-01-07T09:00:00Z", "duration_minutes": 15, "patient_id": "p",
         "ttl_seconds": 60}
    )  # fmt: skip
    for _ in range(5):
        with pytest.raises(SlotUnavailable):
            await client.hold_slot("doc-1", request, "key")
    assert breaker.state is BreakerState.CLOSED
    await client.aclose()


async def test_a_client_without_a_breaker_always_calls() -> None:
    peer = Peer(unavailable)
    client = patients(peer, None)
    for _ in range(10):
        with pytest.raises(PeerUnavailable):
            await client.list_patients()
    assert peer.requests == 10
    assert client.breaker is None
    await client.aclose()


async def test_peers_from_settings_have_one_breaker_each_as_configured() -> None:
    settings = load_settings(breaker_failure_threshold=7, breaker_reset_seconds=2.5)
    peers = Peers.from_settings(settings)
    try:
        assert [b.name for b in peers.breakers] == ["patient", "doctor", "billing"]
        assert peers.breakers[2] is peers.billing.breaker
        assert {(b.failure_threshold, b.reset_seconds) for b in peers.breakers} == {(7, 2.5)}
        assert {b.state for b in peers.breakers} == {BreakerState.CLOSED}
    finally:
        await peers.aclose()
