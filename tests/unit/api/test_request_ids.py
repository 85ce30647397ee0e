"""The request id: the server makes its own for every request, and that one goes into the
audit trail (the events' context, the sagas' requests) from both doors. A caller's
``X-Request-ID`` is kept only when it is short and plain, and only beside ours: echoed as
``X-Client-Request-ID`` and logged, never written into an event."""

from __future__ import annotations

import re

import httpx
import pytest

from api.middleware import client_request_id
from domain.model import Appointment
from tests.fakes import World

BASE = "/api/v1/appointments"
SERVERS = re.compile(r"[0-9a-f]{32}")
FORGED = "audit-0001"  # what a caller would like the audit trail to say


@pytest.mark.parametrize(
    ("offered", "echoed"),
    [
        (FORGED.encode(), FORGED),
        # A trailing newline (a `$` lets it through) would have split the echoed header.
        (b"audit-0001\n", None),
    ],
    ids=["plain", "trailing-newline"],
)
async def test_a_change_is_audited_under_the_servers_id_not_the_callers(
    client: httpx.AsyncClient,
    world: World,
    planted: Appointment,
    offered: bytes,
    echoed: str | None,
) -> None:
    answer = await client.post(
        f"{BASE}/{planted.id}/confirm",
        json={"reason": "phoned"},
        headers={b"X-Request-ID": offered},
    )

    assert answer.status_code == 200, answer.text
    ours = answer.headers["X-Request-ID"]
    assert SERVERS.fullmatch(ours)
    assert answer.headers.get("X-Client-Request-ID") == echoed
    event = (await world.repository.history(planted.id))[-1]
    assert event.context.request_id == ours


CANCEL = """mutation ($id: ID!) {
  cancelAppointment(id: $id, idempotencyKey: "cancel-ids-1") { appointmentId }
}"""


async def test_a_graphql_saga_carries_the_servers_id_not_the_callers(
    client: httpx.AsyncClient, world: World, planted: Appointment
) -> None:
    answer = await client.post(
        "/graphql",
        json={"query": CANCEL, "variables": {"id": planted.id}},
        headers={"X-Request-ID": FORGED},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["cancelAppointment"] == {"appointmentId": planted.id}
    [request] = world.sagas.requests
    assert request.caller.request_id == answer.headers["X-Request-ID"] != FORGED
    event = (await world.repository.history(planted.id))[-1]
    assert event.context.request_id == answer.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "offered",
    [
        None,
        b"",
        b"a" * 129,
        b"abc\n",  # a trailing newline: a `$` would have let it through
        b"abc\r\nX-Role: admin",
        b"abc\x00",
        b"\tabc",
        b"abc\x7f",
        "caf\u00e9".encode("latin-1"),
    ],
    ids=repr,
)
def test_a_callers_id_with_a_control_character_or_too_long_is_refused(
    offered: bytes | None,
) -> None:
    assert client_request_id(offered) is None


@pytest.mark.parametrize(
    "offered", [b"a", b"a" * 128, b"3f9c2e4a-booking-1", b"req:2030-01-07.1_a"], ids=repr
)
def test_a_short_plain_callers_id_is_kept(offered: bytes) -> None:
    assert client_request_id(offered) == offered.decode()
