"""The appointment's journey in REST's answers: ``GET /api/v1/appointments/{id}`` and the
list show its reminders (the one due in quiet hours moved to the evening before), the
next action and when, from the stored appointment and the journey settings (Temporal not
asked); the OpenAPI document describes the block."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
from fastapi import FastAPI

from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World

# The planted appointment starts Tuesday 2030-01-08 09:00 in Berlin (08:00Z); now is
# Sunday noon. 24 h before is Monday 09:00; 2 h before is 07:00, inside the quiet hours
# (21:00-08:00), so that reminder moves to 20:59 on Monday evening.
JOURNEY = {
    "reminders": [
        {"offset_minutes": 1440, "due_at": "2030-01-07T08:00:00Z", "state": "due"},
        {"offset_minutes": 120, "due_at": "2030-01-07T19:59:00Z", "state": "due"},
    ],
    "next_action": "reminder",
    "next_action_at": "2030-01-07T08:00:00Z",
    "no_show_check_at": "2030-01-08T08:15:00Z",
    "no_show_fee_cents": 2500,
}


def stored(world: World, planted: Appointment, **changes: Any) -> Appointment:
    """``planted`` as the store holds it with ``changes`` (what a booking since the fee
    existed, or a reminder's event, would have left)."""
    changed = dataclasses.replace(planted, no_show_fee_cents=2500, **changes)
    world.repository.appointments[planted.id] = changed
    return changed


async def test_reading_an_appointment_shows_its_journey(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    stored(world, planted)

    answer = await client.get(f"/api/v1/appointments/{planted.id}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["journey"] == JOURNEY


async def test_a_sent_reminder_reads_sent_and_the_list_shows_the_journey_too(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    stored(world, planted, reminders_sent=(1440,))

    answer = await client.get("/api/v1/appointments")

    assert answer.status_code == 200, answer.text
    [item] = answer.json()["items"]
    assert [r["state"] for r in item["journey"]["reminders"]] == ["sent", "due"]
    assert (item["journey"]["next_action"], item["journey"]["next_action_at"]) == (
        "reminder",
        "2030-01-07T19:59:00Z",
    )


async def test_a_check_in_answers_the_journey_with_nothing_next(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    stored(world, planted)

    answer = await client.post(f"/api/v1/appointments/{planted.id}/check-in")

    assert answer.status_code == 200, answer.text
    journey = answer.json()["journey"]
    assert (journey["next_action"], journey["next_action_at"]) == (None, None)
    assert [r["state"] for r in journey["reminders"]] == ["skipped", "skipped"]
    assert [a.status for a in world.news.told] == [AppointmentStatus.CHECKED_IN]


async def test_an_appointment_entered_in_error_has_no_journey(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    stored(world, planted, status=AppointmentStatus.FAILED)

    answer = await client.get(f"/api/v1/appointments/{planted.id}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["journey"] is None


def test_the_openapi_document_describes_the_journey(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    journey = schemas["AppointmentOut"]["properties"]["journey"]
    assert {"$ref": "#/components/schemas/Journey"} in journey["anyOf"]
    assert set(schemas["Journey"]["required"]) == {
        "reminders",
        "next_action",
        "next_action_at",
        "no_show_check_at",
        "no_show_fee_cents",
    }
    reminder = schemas["JourneyReminder"]["properties"]
    assert schemas[reminder["state"]["$ref"].rsplit("/", 1)[-1]]["enum"] == [
        "due",
        "sent",
        "skipped",
    ]


async def test_a_recorded_no_show_reads_when_and_its_fee_invoice(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    """Staff see when the no-show was recorded (a reversal is possible for 24 h) and the
    fee's invoice (GraphQL's Appointment has the same fields: tests/unit/graphql)."""
    recorded_at = planted.start + (planted.end - planted.start)
    stored(
        world,
        planted,
        status=AppointmentStatus.NO_SHOW,
        no_show_at=recorded_at,
        no_show_invoice_id="inv-no-show-1",
    )

    rest = (await client.get(f"/api/v1/appointments/{planted.id}")).json()
    assert (rest["no_show_at"], rest["no_show_invoice_id"]) == (
        recorded_at.isoformat().replace("+00:00", "Z"),
        "inv-no-show-1",
    )
    assert rest["journey"]["next_action"] is None
