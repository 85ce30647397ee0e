"""The GraphQL schema run in-process: a context with a principal and a fake read side,
for the pure parts (scalars, limits, error mapping). Sagas and the real read view are
exercised end to end in tests/e2e/test_graphql.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.graphql.context import GraphQLContext
from api.graphql.schema import schema
from application.permissions import Principal, Role
from application.results import ScheduleEntry
from config import Settings, load_settings
from domain.schedule import WorkingCalendar, WorkingInterval
from domain.status import AppointmentStatus
from tests.fakes import BERLIN, FakeCalendars, FakeView, World

START = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


def Row(**changes: Any) -> ScheduleEntry:
    """A row of the read view, as the ``ScheduleView`` port answers it."""
    values: dict[str, Any] = {
        "id": "7f0c3e9a-3f6e-4c65-9a59-5b8d1d0c1a11",
        "patient_id": "pat-anna-schmidt",
        "patient_name": "Anna Schmidt",
        "doctor_id": "doc-on-call",
        "doctor_name": "Dr. On Call",
        "doctor_specialty": "General practice",
        "day": "2030-01-07",
        "start": START,
        "end": START + timedelta(minutes=15),
        "duration_minutes": 15,
        "timezone": "Europe/Berlin",
        "status": AppointmentStatus.SCHEDULED,
        "reason": None,
        "updated_at": START - timedelta(days=3),
    }
    return ScheduleEntry(**(values | changes))


def FakeSchedule(rows: list[ScheduleEntry] | None = None, **options: Any) -> FakeView:
    """The read view's fake, holding one row unless told otherwise."""
    return FakeView(rows=[Row()] if rows is None else rows, **options)


# One slot a week: Mondays 09:00-09:15 in Berlin (2030-01-07 08:00Z), for every doctor.
ONE_SLOT = WorkingCalendar("Dr. One Slot", BERLIN, 15, (WorkingInterval(0, time(9), time(9, 15)),))


def calendars() -> FakeCalendars:
    return FakeCalendars({}, anyone=ONE_SLOT)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, graphql_max_depth=4, graphql_max_aliases=3)


MakeContext = Callable[..., GraphQLContext]


@pytest.fixture
def make_context(settings: Settings) -> MakeContext:
    def make(
        role: str = "staff", subject: str = "frontdesk-1", schedule: FakeView | None = None
    ) -> GraphQLContext:
        world = World(settings=settings, view=schedule or FakeSchedule(), calendars=calendars())
        return GraphQLContext(
            principal=Principal(subject=subject, role=Role(role)),
            settings=settings,
            request_id="req-unit-1",
            wait_seconds=0.0,
            services=world.services,
        )

    return make


async def execute(
    context: GraphQLContext, query: str, variables: dict[str, Any] | None = None
) -> Any:
    return await schema.execute(query, variable_values=variables, context_value=context)
