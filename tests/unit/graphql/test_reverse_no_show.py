"""``reverseNoShow``: REST's no-show reversal through GraphQL, the same use case and rules:
staff and admin only, CHECKED_IN or COMPLETED only, within 24 h of the no-show; every bad
input is a clear error, never an internal one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.graphql.context import GraphQLContext
from application.permissions import Principal, Role
from config import Settings
from domain import model
from domain.events import EventContext, event_id_for
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.graphql.conftest import execute

S = AppointmentStatus
REVERSE = """mutation ($id: ID!, $to: AppointmentStatus!, $key: String!, $reason: String) {
  reverseNoShow(id: $id, to: $to, idempotencyKey: $key, reason: $reason) {
    pending appointment { id status version }
  }
}"""


def context_of(world: World, role: str = "staff", subject: str = "frontdesk-1") -> GraphQLContext:
    return GraphQLContext(
        principal=Principal(subject=subject, role=Role(role)),
        settings=world.settings,
        request_id="req-reverse-1",
        wait_seconds=1.0,
        services=world.services,
    )


async def a_no_show(world: World, recorded_ago: timedelta = timedelta(minutes=30)) -> Appointment:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - recorded_ago - timedelta(minutes=30 + now.minute % 5)
    scheduled = await world.repository.plant(start=start)
    return await world.repository.commit(
        model.transition(
            scheduled,
            S.NO_SHOW,
            event_id=event_id_for(f"{scheduled.id}/no-show"),
            now=now - recorded_ago,
            context=EventContext(actor="system:journey"),
            no_show_invoice_id="inv-no-show",
        )
    )


async def reverse(world: World, **variables: Any) -> Any:
    role = variables.pop("role", "staff")
    return await execute(context_of(world, role), REVERSE, {"key": "reverse-1"} | variables)


async def test_staff_reverse_a_no_show_and_its_fee_is_voided(settings: Settings) -> None:
    world = World(settings=settings)
    no_show = await a_no_show(world)

    result = await reverse(world, id=no_show.id, to="COMPLETED", reason="seen at 09:20")

    assert result.errors is None, result.errors
    assert result.data["reverseNoShow"] == {
        "pending": False,
        # reversed, then the fee's void recorded: two events
        "appointment": {"id": no_show.id, "status": "COMPLETED", "version": no_show.version + 2},
    }
    stored = world.repository.appointments[no_show.id]
    assert (stored.status, stored.no_show_invoice_id) == (S.COMPLETED, None)
    [request] = world.sagas.requests
    assert (request.target, request.reason) == ("COMPLETED", "seen at 09:20")


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"to": "SCHEDULED"}, "BAD_USER_INPUT", "to"),
        ({"to": "NO_SHOW"}, "BAD_USER_INPUT", "to"),
        ({"to": "TELEPORTED"}, "BAD_USER_INPUT", None),  # not a status: the document's error
        ({"id": "not-a-uuid"}, "BAD_USER_INPUT", "id"),
        ({"key": "no spaces allowed"}, "BAD_REQUEST", None),  # as REST's header: 400
        ({"key": "k" * 300}, "BAD_REQUEST", None),
        ({"reason": "x" * 501}, "BAD_USER_INPUT", "reason"),
        ({"role": "doctor"}, "FORBIDDEN", None),
        ({"role": "patient"}, "FORBIDDEN", None),
    ],
    ids=[
        "to-scheduled",
        "to-no-show",
        "to-not-a-status",
        "id-not-a-uuid",
        "key-with-spaces",
        "key-too-long",
        "reason-too-long",
        "doctor",
        "patient",
    ],
)
async def test_a_reversal_the_door_refuses_is_a_clear_error_and_changes_nothing(
    settings: Settings, variables: dict[str, Any], code: str, field: str | None
) -> None:
    world = World(settings=settings)
    no_show = await a_no_show(world)

    result = await reverse(world, **({"id": no_show.id, "to": "CHECKED_IN"} | variables))

    assert result.data is None or result.data["reverseNoShow"] is None
    [error] = result.errors
    extensions = error.extensions or {}
    if variables.get("to") == "TELEPORTED":  # refused by GraphQL itself, before the resolver
        assert "TELEPORTED" in error.message
    else:
        assert extensions["code"] == code, error
    if field is not None:
        assert [e["field"] for e in extensions["errors"]] == [field]
    assert world.sagas.requests == []
    assert world.repository.appointments[no_show.id] == no_show


async def test_a_no_show_older_than_24_hours_is_a_conflict(settings: Settings) -> None:
    world = World(settings=settings)
    no_show = await a_no_show(world, recorded_ago=timedelta(hours=24, minutes=5))

    result = await reverse(world, id=no_show.id, to="CHECKED_IN")

    [error] = result.errors
    assert error.extensions["code"] == "CONFLICT"
    assert error.extensions["type"].endswith("/no-show-reversal-closed")
    assert world.repository.appointments[no_show.id] == no_show


async def test_what_is_no_no_show_is_a_conflict(settings: Settings) -> None:
    world = World(settings=settings)
    scheduled = await world.repository.plant()

    result = await reverse(world, id=scheduled.id, to="CHECKED_IN")

    [error] = result.errors
    assert error.extensions["code"] == "CONFLICT"
    assert error.extensions["type"].endswith("/illegal-transition")
