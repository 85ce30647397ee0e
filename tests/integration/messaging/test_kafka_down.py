"""Kafka goes away while events keep coming: they wait in the outbox, the relay backs off,
and when the broker is back they all flow, in order, none lost."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from domain.clock import now_utc
from localstack import servers
from messaging.relay import OutboxRelay
from messaging.status import RelayStatus
from tests.integration.messaging.conftest import Outbox
from tests.unit.messaging.lifecycles import edits
from tests.waiting import eventually_async as eventually


async def test_events_wait_while_kafka_is_down_and_drain_when_it_is_back(
    outbox: Outbox,
) -> None:
    kafka = outbox.servers.kafka
    since = now_utc() - timedelta(minutes=1)
    # Backoffs of 0.5, 1 and 2 s: the broker restarts and gets its topic back while the
    # relay sleeps the third. Right after a restart Tansu acknowledges writes that race
    # its auto-creation of the missing topic, then loses them (real Kafka refuses a write
    # to a missing partition), so the relay's first write must come after ensure_topic.
    settings = outbox.settings.model_copy(update={"relay_max_backoff_seconds": 2.0})
    async with outbox.running(OutboxRelay(settings, outbox.database)) as relay:
        before = await outbox.commit(edits(3, since=since))
        await outbox.drained()

        await asyncio.to_thread(kafka.stop)
        try:
            waiting = await outbox.commit(
                c for _ in range(3) for c in edits(4, since=since + timedelta(seconds=10))
            )

            async def backing_off() -> bool:
                return relay.stats.kafka_unavailable >= 3

            await eventually(backing_off, what="the relay tried Kafka and backed off")
            status = await outbox.status()
            assert status.backlog == len(waiting)  # nothing marked while nothing was acked
            assert status.oldest_unpublished_age_seconds is not None
            assert status.oldest_unpublished_age_seconds >= 40
        finally:
            # Same port; Tansu comes back empty (topics live in memory only).
            await asyncio.to_thread(lambda: (kafka.start(), kafka.wait_ready()))
        await servers.ensure_topic(outbox.servers.kafka_bootstrap, outbox.topic)

        status = await outbox.drained()
        records = await outbox.read_topic(at_least=len(waiting))

    assert_drained(status)
    envelopes = [json.loads(r.value) for r in sorted(records, key=lambda r: r.offset)]
    assert {e["event_id"] for e in envelopes} >= set(waiting)
    for key in {e["appointment_id"] for e in envelopes if e["event_id"] in waiting}:
        versions = [e["data"]["version"] for e in envelopes if e["appointment_id"] == key]
        assert versions == sorted(versions)
    assert await outbox.published_ids() == set(before) | set(waiting)


def assert_drained(status: RelayStatus) -> None:
    assert (status.backlog, status.parked, status.oldest_unpublished_age_seconds) == (0, 0, None)
