"""The journey as the reads show it and the lifecycle's news to it, on the real local stack:
a booking's read shows its journey (on this stack no reminders, so the no-show check is
next) from what MongoDB holds, no Temporal asked; a check-in through REST reaches the
running journey at once (its query answers CHECKED_IN); confirmations (by channel) and
check-ins are counted on the API's /metrics, once per committed change."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import BASE, booked, change, changed, graphql, scrape, value
from tests.waiting import eventually
from workflows.client import connect_temporal
from workflows.contracts import journey
from workflows.contracts.journey import JourneyView

pytestmark = pytest.mark.e2e

CONFIRM = """mutation ($id: ID!, $key: String!) {
  confirmAppointment(id: $id, idempotencyKey: $key) {
    appointment { status journey { nextAction } }
  }
}"""


def journey_view(service: LocalService, appointment_id: str) -> JourneyView:
    async def ask() -> JourneyView:
        client = await connect_temporal(service.settings)
        handle = client.get_workflow_handle(journey.workflow_id(appointment_id))
        view: JourneyView = await handle.query(journey.VIEW_QUERY, result_type=JourneyView)
        return view

    return asyncio.run(ask())


def counted(service: LocalService) -> dict[str, float]:
    found = scrape(f"{service.api_url}/metrics")
    return {
        "rest": value(found, "appointments_confirmations_total", channel="rest"),
        "graphql": value(found, "appointments_confirmations_total", channel="graphql"),
        "check_ins": value(found, "appointments_check_ins_total"),
    }


def test_a_read_shows_the_journey_and_a_check_in_reaches_it(
    api: httpx.Client, service: LocalService, slots: Slots
) -> None:
    appointment = booked(api, slots.next())
    start = datetime.fromisoformat(appointment["start"])

    # This stack sends no reminders (tests/e2e/conftest.py): the no-show check is next.
    shown: dict[str, Any] = api.get(f"{BASE}/{appointment['id']}").json()["journey"]
    check = (start + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    assert shown == {
        "reminders": [],
        "next_action": "no_show_check",
        "next_action_at": check,
        "no_show_check_at": check,
        "no_show_fee_cents": service.settings.no_show_fee_cents,
    }
    before = counted(service)

    checked_in = changed(api, appointment["id"], "check-in")

    assert checked_in["journey"]["next_action"] is None

    def told() -> bool:
        return journey_view(service, appointment["id"]).status.value == "CHECKED_IN"

    eventually(told, 30.0, "the journey knows of the check-in")
    assert counted(service)["check_ins"] == before["check_ins"] + 1


def test_confirmations_are_counted_by_channel_once_per_change(
    api: httpx.Client, service: LocalService, slots: Slots
) -> None:
    by_rest = booked(api, slots.next())
    by_graphql = booked(api, slots.next())
    before = counted(service)

    key = {"Idempotency-Key": f"confirm-{by_rest['id']}"}
    for _ in range(2):  # a retry with its key is answered again, not counted again
        answer = api.post(f"{BASE}/{by_rest['id']}/confirm", headers=key)
        assert answer.status_code == 200, answer.text
    answered = graphql(api, CONFIRM, id=by_graphql["id"], key=f"confirm-{by_graphql['id']}").json()
    assert answered["data"]["confirmAppointment"]["appointment"] == {
        "status": "CONFIRMED",
        "journey": {"nextAction": "NO_SHOW_CHECK"},
    }
    assert change(api, by_rest["id"], "confirm").status_code == 409  # refused: not counted

    after = counted(service)
    assert (after["rest"], after["graphql"]) == (before["rest"] + 1, before["graphql"] + 1)
