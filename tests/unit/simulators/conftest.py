"""Each simulator app driven in-process through httpx's ASGI transport, with a clock the
test moves by hand so hold expiry needs no sleeping."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from simulators.billing import create_billing_app
from simulators.doctor import create_doctor_app
from simulators.patient import create_patient_app
from simulators.state import SimulatorState
from tests.asgi import client_of
from tests.clocks import WallClock


@pytest.fixture
def clock() -> WallClock:
    return WallClock(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def state(clock: WallClock) -> SimulatorState:
    return SimulatorState.seeded(clock=clock)


@contextlib.asynccontextmanager
async def started(
    create_app: Callable[[SimulatorState], FastAPI], state_file: Path, clock: WallClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the simulator (re)started on what ``state_file`` keeps."""
    async with client_of(
        create_app(SimulatorState.seeded(state_file=state_file, clock=clock))
    ) as api:
        yield api


@pytest.fixture
async def patient_api(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(create_patient_app(state)) as client:
        yield client


@pytest.fixture
async def doctor_api(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(create_doctor_app(state)) as client:
        yield client


@pytest.fixture
async def billing_api(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(create_billing_app(state)) as client:
        yield client
