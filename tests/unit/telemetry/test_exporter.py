"""The worker's endpoint: served on its port with fresh snapshots, off on port 0, and a
port already taken costs the metrics, never the worker."""

from __future__ import annotations

import asyncio
import socket

import httpx

from localstack.ports import free_port, port_open
from telemetry.exporter import exported
from telemetry.metrics import WorkerMetrics
from tests.unit.telemetry.conftest import FakeBreaker

HOST = "127.0.0.1"


def worker_metrics() -> WorkerMetrics:
    return WorkerMetrics(refusals=["SlotUnavailable"], workflows=["BookingWorkflow"])


async def scrape(port: int) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://{HOST}:{port}/metrics")


async def test_the_endpoint_serves_the_registry_and_keeps_snapshots_fresh() -> None:
    metrics = worker_metrics()
    breaker = FakeBreaker("billing", "closed")
    metrics.watch(breakers=lambda: [breaker])
    port = free_port()

    async with exported(metrics, host=HOST, port=port, refresh_seconds=0.05) as served:
        assert served
        first = await scrape(port)
        breaker.state = "open"
        await asyncio.sleep(0.2)  # a few refreshes
        second = await scrape(port)

    assert first.status_code == 200
    completed = '{outcome="completed",workflow="BookingWorkflow"} 0.0'
    assert f"appointments_saga_outcomes_total{completed}" in first.text
    assert 'appointments_peer_breaker_state{peer="billing",state="closed"} 1.0' in first.text
    assert 'appointments_peer_breaker_state{peer="billing",state="open"} 1.0' in second.text
    assert not port_open(HOST, port)  # closed with the block


async def test_port_zero_serves_nothing() -> None:
    async with exported(worker_metrics(), host=HOST, port=0) as served:
        assert not served


async def test_a_taken_port_is_logged_and_the_worker_goes_on() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with exported(worker_metrics(), host=HOST, port=port) as served:
            assert not served
