"""The API in-process over HTTP, on the fakes of tests/fakes.py: one app for the module
(building one is the slow part), each test its own World, a client of the front desk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.security.tokens import TokenVerifier, issue_local_token
from application.permissions import Role
from config import Settings, load_settings
from domain.model import Appointment
from domain.schedule import WorkingCalendar
from tests.asgi import client_of
from tests.fakes import FakeCalendars, FakeView, World

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)  # Sunday noon; the planted one is on Tuesday
PLANTED_START = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
PROBLEM_JSON = "application/problem+json"


@dataclass
class AskedCalendars(FakeCalendars):
    """The Doctor Service's calendars, recording which doctors were asked about."""

    asked: list[str] = field(default_factory=list)

    async def calendar(self, doctor_id: str) -> WorkingCalendar:
        self.asked.append(doctor_id)
        return await super().calendar(doctor_id)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(data_dir=tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)  # no lifespan: the state a request needs, set by hand
    issue_local_token(settings, Role.STAFF, "warm-up")  # makes the local secret
    app.state.verifier = TokenVerifier.from_settings(settings)
    return app


@pytest.fixture
def world(settings: Settings, app: FastAPI) -> World:
    world = World(settings=settings, view=FakeView(), calendars=AskedCalendars(), now=NOW)
    app.state.services = world.services
    return world


def bearer(settings: Settings, role: Role = Role.STAFF, subject: str = "frontdesk-1") -> str:
    return f"Bearer {issue_local_token(settings, role, subject)}"


@pytest.fixture
async def client(
    app: FastAPI, world: World, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The front desk (staff); a test may set another caller's ``Authorization``."""
    async with client_of(app, headers={"Authorization": bearer(settings)}) as client:
        yield client


@pytest.fixture
async def planted(world: World) -> Appointment:
    """A SCHEDULED appointment staff may change, cancel and move (version 2)."""
    return await world.repository.plant(start=PLANTED_START)


def problem_type(answer: httpx.Response, status: int) -> str:
    """The last segment of the problem's ``type``, once the answer is that problem."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    return str(problem["type"]).rsplit("/", 1)[-1]


def nothing_started(world: World, *planted: Appointment) -> None:
    """No saga asked, no change written, no peer or read view asked."""
    assert world.sagas.requests == []
    assert world.repository.appointments == {a.id: a for a in planted}
    assert isinstance(world.calendars, AskedCalendars)
    assert world.calendars.asked == []
    assert world.view.calls == []
