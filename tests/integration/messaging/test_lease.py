"""Two relays on one outbox: one publishes, the other waits as a standby and takes over
when the first hands the lease back (graceful stop) or lets it lapse (crash)."""

from __future__ import annotations

import json

from messaging.lease import LEASE_COLLECTION, RELAY_LEASE, Lease
from tests.integration.messaging.conftest import Outbox, RunningRelay
from tests.unit.messaging.lifecycles import edits
from tests.waiting import eventually_async as eventually

LEASE_SECONDS = 2.0  # short, so a takeover is quick to see


async def lease_holder(outbox: Outbox) -> str | None:
    doc = await outbox.database[LEASE_COLLECTION].find_one({"_id": RELAY_LEASE})
    return None if doc is None else str(doc["owner"])


async def test_only_the_lease_holder_publishes_and_a_standby_takes_over(outbox: Outbox) -> None:
    first = outbox.relay(owner="relay-first", lease_seconds=LEASE_SECONDS)
    second = outbox.relay(owner="relay-second", lease_seconds=LEASE_SECONDS)

    async def held_by(owner: str) -> bool:
        return await lease_holder(outbox) == owner

    first_run = RunningRelay(first)
    second_run: RunningRelay | None = None
    try:
        await eventually(lambda: held_by("relay-first"), what="the first relay takes the lease")
        second_run = RunningRelay(second)
        ids = await outbox.commit(c for _ in range(4) for c in edits(5))
        await outbox.drained()
        assert (first.stats.published, second.stats.published) == (len(ids), 0)
        assert await held_by("relay-first")

        await first_run.stop()  # graceful: hands the lease back
        await eventually(lambda: held_by("relay-second"), what="the standby takes over")
        more = await outbox.commit(c for _ in range(2) for c in edits(3))
        await outbox.drained()
        assert (first.stats.published, second.stats.published) == (len(ids), len(more))
    finally:
        await first_run.stop()
        if second_run is not None:
            await second_run.stop()

    records = await outbox.read_topic(at_least=len(ids) + len(more))
    assert {json.loads(r.value)["event_id"] for r in records} == set(ids) | set(more)


async def test_a_lapsed_lease_is_taken_over(outbox: Outbox) -> None:
    """A crashed holder never hands its lease back: the standby waits for it to lapse."""
    crashed = Lease(
        outbox.database[LEASE_COLLECTION], owner="relay-crashed", ttl_seconds=LEASE_SECONDS
    )
    assert await crashed.acquire()  # takes it, then "crashes": never renews
    standby = outbox.relay(owner="relay-standby", lease_seconds=LEASE_SECONDS)
    ids = await outbox.commit(edits(3))
    async with outbox.running(standby):
        await outbox.drained()
    assert standby.stats.published == len(ids)
    assert await lease_holder(outbox) == "relay-standby"
