"""The relay in this process against the real MongoDB wire protocol and the real broker:
events flow in order, poison rows are parked while the rest flows, status tells the truth."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import timedelta
from typing import Any

from aiokafka import ConsumerRecord

from domain.clock import now_utc
from domain.status import AppointmentStatus
from messaging.contract import validate_envelope
from messaging.kafka import make_producer
from messaging.relay import OutboxRelay
from tests.integration.messaging.conftest import Outbox
from tests.unit.messaging.lifecycles import Lifecycle, edits, every_event_type
from tests.waiting import eventually_async as eventually


def by_key(records: list[ConsumerRecord]) -> dict[str, list[dict[str, Any]]]:
    """The envelopes on the topic per key, in the order the partition holds them."""
    envelopes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelopes[record.key.decode()].append(json.loads(record.value))
    return envelopes


async def test_events_flow_in_order_per_appointment_with_the_envelope_intact(
    outbox: Outbox,
) -> None:
    chains = [list(edits(6)) for _ in range(4)]
    interleaved = [change for step in zip(*chains, strict=True) for change in step]
    ids = await outbox.commit([*every_event_type(), *interleaved])
    rows = {row["_id"]: row async for row in outbox.rows.find({})}

    async with outbox.running(outbox.relay()):
        records = await outbox.read_topic(at_least=len(ids))
        status = await outbox.drained()

    assert sorted(json.loads(r.value)["event_id"] for r in records) == sorted(ids)
    for key, envelopes in by_key(records).items():
        assert [e["data"]["version"] for e in envelopes] == list(range(1, len(envelopes) + 1))
        for envelope in envelopes:
            validate_envelope(envelope)
            assert envelope == rows[envelope["event_id"]]["envelope"]  # intact
            assert envelope["appointment_id"] == key
    assert (status.backlog, status.parked, status.oldest_unpublished_age_seconds) == (0, 0, None)
    assert status.last_published_at is not None
    assert await outbox.published_ids() == set(ids)


async def test_a_row_breaking_the_contract_is_parked_and_the_rest_flows(outbox: Outbox) -> None:
    poison_life = Lifecycle().to(AppointmentStatus.SCHEDULED)
    good_id, poison_id = await outbox.commit(poison_life.history)
    # Broken after the commit, as a bug or a hand edit could: parked, never published.
    await outbox.rows.update_one(
        {"_id": poison_id}, {"$unset": {"envelope.data.status": ""}, "$set": {"envelope.actor": 7}}
    )
    after = await outbox.commit(poison_life.edited().history[-1:])  # the same appointment
    others = await outbox.commit(edits(3))

    async with outbox.running(outbox.relay()) as relay:
        records = await outbox.read_topic(at_least=5)
        status = await outbox.drained()

    on_topic = [json.loads(r.value)["event_id"] for r in records]
    assert sorted(on_topic) == sorted([good_id, *after, *others])
    parked = await outbox.rows.find_one({"_id": poison_id})
    assert parked is not None
    assert (parked["parked"], parked["published_at"], parked["attempts"]) == (True, None, 1)
    assert parked["last_error"].startswith("contract violation: ")
    assert (status.backlog, status.parked) == (0, 1)
    assert relay.stats.parked == 1


async def test_a_row_kafka_refuses_is_parked_after_the_last_attempt(outbox: Outbox) -> None:
    life = Lifecycle()
    life.to(AppointmentStatus.SCHEDULED).edited().edited(notes="short")
    ids = await outbox.commit(life.history)
    too_large = ids[2]
    # The free text never reaches Kafka (messaging/envelope.py), so the row is made large
    # by hand: a field consumers ignore, as a later producer might add.
    padding = {"$set": {"envelope.data.padding": "x" * 5000}}
    await outbox.rows.update_one({"_id": too_large}, padding)
    others = await outbox.commit(edits(2))
    # The broker's limit is far away; a producer with a small one refuses the same way.
    small = outbox.relay(
        producer_factory=lambda: make_producer(outbox.settings, max_request_size=3000)
    )

    async with outbox.running(small):

        async def parked() -> dict[str, Any] | None:
            return await outbox.rows.find_one({"_id": too_large, "parked": True})

        row = await eventually(parked, what="the oversized row is parked")
        records = await outbox.read_topic(at_least=len(ids) - 1 + len(others))
        status = await outbox.drained()

    assert row["attempts"] == outbox.settings.relay_max_attempts
    assert "MessageSizeTooLargeError" in row["last_error"]
    versions = [e["data"]["version"] for e in by_key(records)[life.id]]
    assert versions == [1, 2, 4]  # the parked event is the one gap; the rest in order
    assert (status.backlog, status.parked) == (0, 1)


async def test_status_shows_the_backlog_and_its_age_while_no_relay_runs(outbox: Outbox) -> None:
    five_minutes_ago = now_utc() - timedelta(minutes=5)
    await outbox.insert_rows(edits(3, since=five_minutes_ago))
    status = await outbox.status()
    assert (status.backlog, status.parked, status.last_published_at) == (3, 0, None)
    assert status.oldest_unpublished_age_seconds is not None
    assert 5 * 60 - 5 < status.oldest_unpublished_age_seconds < 5 * 60 + 60


async def test_an_insert_wakes_the_idle_relay_without_waiting_for_the_poll(
    outbox: Outbox,
) -> None:
    hour_poll = outbox.settings.model_copy(update={"relay_poll_seconds": 3600.0})
    relay = OutboxRelay(hour_poll, outbox.database)
    async with outbox.running(relay):
        await outbox.commit(edits(1))
        await outbox.drained()  # the first cycle, or the change stream
        await asyncio.sleep(0.3)  # let it settle into its idle wait
        ids = await outbox.commit(edits(2))
        # Only the change stream can wake it within the deadline: the poll is an hour.
        await outbox.drained()
    assert await outbox.published_ids() >= set(ids)
