"""``confirmAppointment``: REST's confirm through GraphQL, with the same matrix (a patient
confirms their own appointment; someone else's reads as missing; a doctor may not)."""

from __future__ import annotations

from typing import Any

from api.graphql.context import GraphQLContext
from application.permissions import Principal, Role
from config import Settings
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.graphql.conftest import execute

CONFIRM = """mutation ($id: ID!, $key: String!) {
  confirmAppointment(id: $id, idempotencyKey: $key) {
    pending appointment { id status version }
  }
}"""


def context_of(world: World, role: str, subject: str) -> GraphQLContext:
    return GraphQLContext(
        principal=Principal(subject=subject, role=Role(role)),
        settings=world.settings,
        request_id="req-confirm-1",
        wait_seconds=0.0,
        services=world.services,
    )


async def confirm(world: World, planted: Appointment, role: str, subject: str) -> Any:
    variables = {"id": planted.id, "key": f"confirm-{role}-{subject}"}
    return await execute(context_of(world, role, subject), CONFIRM, variables)


async def test_a_patient_confirms_their_own_appointment(settings: Settings) -> None:
    world = World(settings=settings)
    planted = await world.repository.plant(patient_id="pat-anna-schmidt")

    result = await confirm(world, planted, "patient", "pat-anna-schmidt")

    assert result.errors is None, result.errors
    assert result.data["confirmAppointment"] == {
        "pending": False,
        "appointment": {"id": planted.id, "status": "CONFIRMED", "version": planted.version + 1},
    }
    stored = world.repository.appointments[planted.id]
    assert stored.status is AppointmentStatus.CONFIRMED
    history = await world.repository.history(planted.id)
    assert history[-1].context.actor == "patient:pat-anna-schmidt"


async def test_someone_elses_appointment_reads_as_missing(settings: Settings) -> None:
    world = World(settings=settings)
    planted = await world.repository.plant(patient_id="pat-anna-schmidt")

    others = await confirm(world, planted, "patient", "pat-ben-okafor")
    doctors = await confirm(world, planted, "doctor", "doc-on-call")

    assert others.errors[0].extensions["code"] == "NOT_FOUND"
    assert doctors.errors[0].extensions["code"] == "FORBIDDEN"
    assert world.repository.appointments[planted.id] == planted
