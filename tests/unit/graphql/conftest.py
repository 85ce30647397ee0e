"""The GraphQL schema run in-process: a context with a principal and a fake read side,
for the pure parts (scalars, limits, error mapping). Sagas and the real read view are
exercised end to end in tests/e2e/test_graphql.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass
class FakeSchedule(FakeView):
    """The read view's port; ``fail`` makes every call raise it, ``calls`` records them."""

    rows: list[ScheduleEntry] = field(default_factory=lambda: [Row()])
    fail: BaseException | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def _called(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.fail is not None:
            raise self.fail

    async def doctor_schedule(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> list[ScheduleEntry]:
        self._called("doctor_schedule", doctor_id, start_from, start_to)
        return await super().doctor_schedule(doctor_id, start_from, start_to)

    async def patient_appointments(
        self,
        patient_id: str,
        start_from: datetime,
        start_to: datetime,
        *,
        doctor_id: str | None = None,
    ) -> list[ScheduleEntry]:
        self._called("patient_appointments", patient_id, start_from, start_to, doctor_id)
        return await super().patient_appointments(
            patient_id, start_from, start_to, doctor_id=doctor_id
        )

    async def appointment(self, appointment_id: str) -> ScheduleEntry | None:
        self._called("appointment", appointment_id)
        return await super().appointment(appointment_id)

    async def busy(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> Sequence[tuple[datetime, datetime]]:
        self._called("busy", doctor_id, start_from, start_to)
        return await super().busy(doctor_id, start_from, start_to)


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
        role: str = "staff", subject: str = "frontdesk-1", schedule: FakeSchedule | None = None
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
