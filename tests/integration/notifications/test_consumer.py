"""The Notification Service's stand-in against a real Kafka wire protocol (Tansu) and a
real MongoDB wire protocol (SecantusDB): every event recorded once, duplicates absorbed,
and a broker restart survived."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from config import Settings, load_settings
from domain.waitlist import WaitlistEventType
from localstack import servers
from localstack.ports import free_port
from localstack.processes import ManagedProcess
from messaging.envelope import waitlist_envelope
from simulators.notifications import DATABASE, NotificationConsumer, SentMessages
from tests.envelopes import event_value
from tests.unit.messaging.waitlist_lifecycle import LINKS, every_type
from tests.waiting import eventually_async

TOPIC = "appointment.events"
WAITLIST_TOPIC = "waitlist.events"


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    broker = servers.kafka(free_port(), tmp_path_factory.mktemp("notify-kafka"))
    with broker:
        for topic in (TOPIC, WAITLIST_TOPIC):
            asyncio.run(servers.ensure_topic(f"{servers.HOST}:{broker.port}", topic))
        yield broker


@pytest.fixture
def settings(mongo_uri: str, kafka: ManagedProcess) -> Settings:
    return load_settings(
        mongo_uri=mongo_uri,
        kafka_bootstrap_servers=f"{servers.HOST}:{kafka.port}",
        kafka_topic=TOPIC,
        waitlist_topic=WAITLIST_TOPIC,
    )


@pytest.fixture
async def records(settings: Settings) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_uri, tz_aware=True)
    await client.drop_database(DATABASE)
    yield client[DATABASE]["sent_messages"]
    await client.close()


async def publish(settings: Settings, values: list[bytes], key: str, topic: str = TOPIC) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def until(count: Any, expected: int, within: float = 30.0) -> None:
    async def seen_enough() -> bool:
        return bool(await count() >= expected)

    await eventually_async(seen_enough, within, f"{expected} records seen")


async def test_each_event_is_recorded_once_and_duplicates_are_absorbed(
    settings: Settings, records: Any
) -> None:
    booked, cancelled = (
        event_value("appointment.scheduled", "a-1"),
        event_value("appointment.cancelled", "a-1"),
    )
    requested = event_value("appointment.requested", "a-1")
    reminder = event_value("appointment.reminder_due", "a-1")
    reminder["details"] = {
        "offset_minutes": 1440,
        "start_local": "2030-01-07T10:00:00+01:00",
        "timezone": "Europe/Berlin",
        "doctor_name": "Dr. Noah Fischer",
        "links": {"confirm": "http://127.0.0.1:8000/a/c1", "cancel": "http://127.0.0.1:8000/a/x1"},
    }
    reminder["occurred_at"] = "2030-01-06T09:00:02+00:00"  # it went out 24 h before the start
    events = (requested, booked, booked, reminder, cancelled)
    values = [json.dumps(e).encode() for e in events]
    await publish(settings, [*values, b"not an event"], key="a-1")

    consumer = NotificationConsumer(settings, SentMessages(records.database))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: records.count_documents({}), 4)
        await until(lambda: asyncio.sleep(0, consumer.duplicates), 1)
    finally:
        stop.set()
        await task

    rows = {row["_id"]: row for row in await records.find().to_list()}
    assert set(rows) == {e["event_id"] for e in events}
    assert rows[requested["event_id"]]["message"] is None  # nobody hears of a pending one
    assert "is booked" in rows[booked["event_id"]]["message"]["text"]
    assert "is cancelled" in rows[cancelled["event_id"]]["message"]["text"]
    reminded = rows[reminder["event_id"]]["message"]
    assert reminded["channel"] == "sms+email"
    assert reminded["text"] == (
        "Reminder: your appointment with Dr. Noah Fischer on Mon 07 Jan 2030, 10:00 CET "
        "(in 24 hours). Confirm: http://127.0.0.1:8000/a/c1 Cancel: http://127.0.0.1:8000/a/x1"
    )
    assert (consumer.recorded, consumer.duplicates) == (4, 1)


async def test_a_broker_restart_loses_nothing_and_sends_nothing_twice(
    settings: Settings, records: Any, kafka: ManagedProcess, tmp_path: Path
) -> None:
    first = event_value("appointment.scheduled", "a-2")
    await publish(settings, [json.dumps(first).encode()], key="a-2")
    consumer = NotificationConsumer(settings, SentMessages(records.database))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: records.count_documents({}), 1)
        # Tansu keeps topics in memory: after the restart the topic is new and empty, the
        # group's offsets are gone, and the consumer must find its way back by itself.
        await asyncio.to_thread(kafka.stop)
        await asyncio.to_thread(kafka.start)
        await asyncio.to_thread(kafka.wait_ready)
        await servers.ensure_topic(settings.kafka_bootstrap_servers, TOPIC)
        second = event_value("appointment.cancelled", "a-2")
        # The relay re-sends what it is unsure of: the first event comes again.
        await publish(settings, [json.dumps(first).encode(), json.dumps(second).encode()], "a-2")
        await until(lambda: records.count_documents({}), 2, within=60.0)
    finally:
        stop.set()
        await task
    assert await records.count_documents({"_id": second["event_id"]}) == 1
    assert await records.count_documents({}) == 2


async def test_waitlist_offers_are_recorded_once_beside_appointment_events(
    settings: Settings, records: Any
) -> None:
    """The waitlist's topic is read too: an offer is recorded with its answer links, its
    expiry and its booking with a short line, a joining with none; a redelivered offer is
    a duplicate, as an appointment event's is."""
    changes = every_type()
    values = {
        c.event.type: json.dumps(waitlist_envelope(c.event, c.state)).encode() for c in changes
    }
    entry_id = changes[0].state.id
    offer = values[WaitlistEventType.OFFERED]
    await publish(
        settings,
        [
            values[WaitlistEventType.JOINED],
            offer,
            offer,
            values[WaitlistEventType.OFFER_EXPIRED],
            values[WaitlistEventType.FULFILLED],
        ],
        key=entry_id,
        topic=WAITLIST_TOPIC,
    )
    booked = event_value("appointment.scheduled", "a-3")
    await publish(settings, [json.dumps(booked).encode()], key="a-3")

    # The group may read the earlier tests' appointment events again (the broker keeps
    # no offsets across its restart): only this test's events are looked at.
    mine = [
        json.loads(v)["event_id"]
        for v in (*values.values(), json.dumps(booked).encode())
        if json.loads(v)["type"] not in ("waitlist.offer_declined", "waitlist.left")
    ]
    consumer = NotificationConsumer(settings, SentMessages(records.database))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: records.count_documents({"_id": {"$in": mine}}), 5)
        await until(lambda: asyncio.sleep(0, consumer.duplicates), 1)
    finally:
        stop.set()
        await task

    found = await records.find({"_id": {"$in": mine}}).to_list()
    rows = {row["event_type"]: row for row in found}
    assert len(found) == 5
    assert set(rows) == {
        "waitlist.joined",
        "waitlist.offered",
        "waitlist.offer_expired",
        "waitlist.fulfilled",
        "appointment.scheduled",
    }
    assert rows["waitlist.joined"]["message"] is None
    offered = rows["waitlist.offered"]
    assert (offered["entry_id"], offered["recipient"]) == (entry_id, "pat-anna-schmidt")
    assert offered["message"]["channel"] == "sms+email"
    assert offered["message"]["text"] == (
        "A slot with Dr. Noah Fischer on Tue 08 Jan 2030, 09:00 CET is free for you. "
        f"Accept by 10:15 CET: {LINKS['accept']} Decline: {LINKS['decline']}"
    )
    assert "has gone" in rows["waitlist.offer_expired"]["message"]["text"]
    assert "is yours" in rows["waitlist.fulfilled"]["message"]["text"]
    assert "is booked" in rows["appointment.scheduled"]["message"]["text"]
    # The offer came twice and was recorded once.
    assert await records.count_documents({"_id": json.loads(offer)["event_id"]}) == 1
