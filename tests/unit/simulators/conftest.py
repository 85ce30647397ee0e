"""Each simulator app driven in-process through httpx's ASGI transport, with a clock the
test moves by hand so hold expiry needs no sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from simulators.billing import create_billing_app
from simulators.doctor import create_doctor_app
from simulators.patient import create_patient_app
from simulators.state import SimulatorState


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def state(clock: ManualClock) -> SimulatorState:
    return SimulatorState.seeded(clock=clock)


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        yield client


@pytest.fixture
async def patient_api(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(create_patient_app(state)):
        yield client


@pytest.fixture
async def doctor_api(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(create_doctor_app(state)):
        yield client


@pytest.fixture
async def billing_api(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(create_billing_app(state)):
        yield client
