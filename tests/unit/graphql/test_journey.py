"""The journey in GraphQL: ``appointment`` (a row of the read view) and the stored
appointment a mutation answers show REST's journey (reminders, the next action and when),
read from the stored appointment."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from api.graphql.context import GraphQLContext
from application.permissions import Principal, Role
from config import Settings
from domain.model import Appointment
from tests.fakes import FakeView, World
from tests.unit.graphql.conftest import execute

NOW = datetime(2030, 1, 6, 12, 0, tzinfo=UTC)  # Sunday noon
# Tuesday 09:00 in Berlin: its 2-hour reminder (07:00) is in the quiet hours, moved to
# 20:59 on Monday evening.
START = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
JOURNEY = """journey {
  reminders { offsetMinutes dueAt state } nextAction nextActionAt noShowCheckAt noShowFeeCents
}"""


def context_of(world: World, role: str = "staff", subject: str = "frontdesk-1") -> GraphQLContext:
    return GraphQLContext(
        principal=Principal(subject=subject, role=Role(role)),
        settings=world.settings,
        request_id="req-journey-1",
        wait_seconds=0.0,
        services=world.services,
    )


async def planted(world: World) -> Appointment:
    appointment = await world.repository.plant(start=START)
    appointment = dataclasses.replace(appointment, reminders_sent=(1440,), no_show_fee_cents=2500)
    world.repository.appointments[appointment.id] = appointment
    world.view.add(appointment)
    return appointment


EXPECTED: dict[str, Any] = {
    "reminders": [
        {"offsetMinutes": 1440, "dueAt": "2030-01-07T08:00:00+00:00", "state": "SENT"},
        {"offsetMinutes": 120, "dueAt": "2030-01-07T19:59:00+00:00", "state": "DUE"},
    ],
    "nextAction": "REMINDER",
    "nextActionAt": "2030-01-07T19:59:00+00:00",
    "noShowCheckAt": "2030-01-08T08:15:00+00:00",
    "noShowFeeCents": 2500,
}


async def test_the_appointment_query_shows_its_journey(settings: Settings) -> None:
    world = World(settings=settings, view=FakeView(), now=NOW)
    appointment = await planted(world)

    query = f"query ($id: ID!) {{ appointment(id: $id) {{ id {JOURNEY} }} }}"
    result = await execute(context_of(world), query, {"id": appointment.id})

    assert result.errors is None, result.errors
    assert result.data["appointment"] == {"id": appointment.id, "journey": EXPECTED}


async def test_a_mutation_answers_the_stored_appointment_with_its_journey(
    settings: Settings,
) -> None:
    world = World(settings=settings, view=FakeView(), now=NOW)
    appointment = await planted(world)
    context = context_of(world)
    context.wait_seconds = 5.0  # the fake saga answers at once

    result = await execute(
        context,
        'mutation ($id: ID!) { cancelAppointment(id: $id, idempotencyKey: "journey-1") '
        f"{{ appointment {{ status {JOURNEY} }} }} }}",
        {"id": appointment.id},
    )

    assert result.errors is None, result.errors
    answered = result.data["cancelAppointment"]["appointment"]
    assert answered["status"] == "CANCELLED"
    assert answered["journey"] == EXPECTED | {
        "reminders": [EXPECTED["reminders"][0], EXPECTED["reminders"][1] | {"state": "SKIPPED"}],
        "nextAction": None,
        "nextActionAt": None,
    }
