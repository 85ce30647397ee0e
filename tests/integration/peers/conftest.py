"""The peers' simulators served by real uvicorn on free ports, for the peer clients'
integration tests, and the helpers those tests share."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import load_settings
from peers import Peers
from peers.contracts import HoldRequest, InvoiceRequest
from simulators.runner import serve_simulators
from tests.waiting import eventually_async

ON_CALL = "doc-on-call"
Urls = dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_simulators(state_dir: Path | None) -> AsyncIterator[Urls]:
    ports = {name: free_port() for name in ("patient", "doctor", "billing")}
    task = asyncio.create_task(
        serve_simulators(
            "127.0.0.1", ports["patient"], ports["doctor"], ports["billing"], state_dir
        )
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        async with httpx.AsyncClient(timeout=1) as client:

            async def answering() -> bool:
                if task.done():
                    task.result()  # surfaces a bind error
                with contextlib.suppress(httpx.TransportError):
                    return all(
                        [(await client.get(f"{u}/health")).is_success for u in urls.values()]
                    )
                return False

            await eventually_async(answering, within=10, what="the simulators answer /health")
        yield urls
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture(scope="module")
async def urls() -> AsyncIterator[Urls]:
    async with running_simulators(None) as running:
        yield running


def peers_of(urls: Urls, **settings: Any) -> Peers:
    """The peer clients of the running simulators, with ``settings`` (timeouts, breakers)."""
    return Peers.from_settings(
        load_settings(
            patient_service_url=urls["patient"],
            doctor_service_url=urls["doctor"],
            billing_service_url=urls["billing"],
            **settings,
        )
    )


async def set_fault(url: str, **config: Any) -> None:
    async with httpx.AsyncClient() as client:
        (await client.put(f"{url}/_sim/faults", json=config)).raise_for_status()


def tomorrow() -> tuple[datetime, datetime]:
    start = datetime.now(UTC) + timedelta(days=1)
    return start, start + timedelta(days=1)


def hold_request(start: datetime, minutes: int = 15) -> HoldRequest:
    return HoldRequest(
        start=start, duration_minutes=minutes, patient_id="pat-anna-schmidt", ttl_seconds=60
    )


def invoice_request(amount_cents: int = 6000) -> InvoiceRequest:
    return InvoiceRequest(
        appointment_id="apt-42", patient_id="pat-anna-schmidt",
        amount_cents=amount_cents, currency="EUR",
    )  # fmt: skip
