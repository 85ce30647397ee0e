"""The relay against real servers: the session's SecantusDB and ONE Tansu broker, on
free ports; each test gets a database and a topic of its own (Tansu forgets topics when
it restarts, and one test restarts it)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from config import Settings, load_settings
from domain.model import Change
from localstack import servers
from localstack.ports import free_port
from localstack.processes import ManagedProcess
from messaging.relay import OutboxRelay
from messaging.status import RelayStatus, relay_status
from persistence.database import connect
from persistence.mapping import outbox_row
from persistence.store import AppointmentStore
from tests.waiting import eventually_async as eventually

T = TypeVar("T")


@dataclass(frozen=True)
class Servers:
    mongo_uri: str
    kafka: ManagedProcess  # tests stop and restart it
    kafka_bootstrap: str


@pytest.fixture(scope="session")
def brokers(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Iterator[Servers]:
    """The session's MongoDB (tests/integration/conftest.py) and a Tansu broker of its own
    (one test restarts it). The ``with`` block stops the broker whatever happens."""
    data = tmp_path_factory.mktemp("messaging")
    kafka_port = free_port()
    with servers.kafka(kafka_port, data / "logs") as kafka:
        yield Servers(mongo_uri, kafka, f"{servers.HOST}:{kafka_port}")


class RunningRelay:
    """A relay running as a task of this loop, until ``stop`` (graceful, like SIGTERM)."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(relay.run(self._stop))

    async def stop(self) -> None:
        """Idempotent; re-raises what the relay crashed with, if it did."""
        self._stop.set()
        await asyncio.wait_for(self._task, 30)


@dataclass
class Outbox:
    """One test's database and topic, with the settings a relay for them needs."""

    servers: Servers
    settings: Settings
    client: AsyncMongoClient[Any]
    store: AppointmentStore

    @property
    def database(self) -> AsyncDatabase[dict[str, Any]]:
        return self.client[self.settings.mongo_database]

    @property
    def rows(self) -> AsyncCollection[dict[str, Any]]:
        return self.database["outbox_events"]

    @property
    def topic(self) -> str:
        return self.settings.kafka_topic

    async def commit(self, changes: Iterable[Change]) -> list[str]:
        """Through the real unit of work; the event ids, in commit order."""
        ids = []
        for change in changes:
            await self.store.commit(change)
            ids.append(change.event.event_id)
        return ids

    async def insert_rows(self, changes: Iterable[Change]) -> list[str]:
        """The outbox rows of ``changes`` only (fast, for volume), made by outbox_row."""
        docs = [outbox_row(c.event, c.state, self.topic).model_dump(by_alias=True) for c in changes]
        await self.rows.insert_many(docs)
        return [doc["_id"] for doc in docs]

    async def status(self) -> RelayStatus:
        return await relay_status(self.database)

    async def published_ids(self) -> set[str]:
        docs = self.rows.find({"published_at": {"$ne": None}}, {"_id": True})
        return {doc["_id"] async for doc in docs}

    @contextlib.asynccontextmanager
    async def running(self, relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
        """Run ``relay`` in this loop; stop it gracefully (and re-raise its crash) after."""
        run = RunningRelay(relay)
        try:
            yield relay
        finally:
            await run.stop()

    def relay(self, **options: Any) -> OutboxRelay:
        return OutboxRelay(self.settings, self.database, **options)

    async def drained(self) -> RelayStatus:
        async def empty() -> RelayStatus | None:
            status = await self.status()
            return status if status.backlog == 0 else None

        return await eventually(empty, what="the outbox backlog drains")

    async def read_topic(self, *, at_least: int, within: float = 30.0) -> list[ConsumerRecord]:
        """Every record on the topic from its start: once ``at_least`` arrived, up to the
        end offsets of that moment (so nothing published by then is missed)."""
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.servers.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            records: list[ConsumerRecord] = []

            async def read_up() -> bool:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
                if len(records) < at_least:
                    return False
                partitions = sorted(consumer.assignment())
                end = await consumer.end_offsets(partitions)
                positions = [await consumer.position(tp) for tp in partitions]
                caught_up = zip(positions, partitions, strict=True)
                return all(at >= end[tp] for at, tp in caught_up)

            await eventually(read_up, within, lambda: f"{len(records)} of {at_least} records")
            return records
        finally:
            await consumer.stop()


def settings_for(brokers: Servers, **overrides: Any) -> Settings:
    name = uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "mongo_uri": brokers.mongo_uri,
        "mongo_database": f"relay_test_{name}",
        "kafka_bootstrap_servers": brokers.kafka_bootstrap,
        "kafka_topic": f"appointment.events.{name}",
        "kafka_enable_idempotence": False,  # Tansu refuses it (ARCHITECTURE §5)
        "kafka_request_timeout_ms": 2000,
        "relay_poll_seconds": 0.2,
        "relay_max_backoff_seconds": 1.0,
        "relay_max_attempts": 3,
        "relay_batch_size": 50,
    }
    return load_settings(**(values | overrides))


@pytest.fixture
async def outbox(brokers: Servers) -> AsyncIterator[Outbox]:
    settings = settings_for(brokers)
    await servers.ensure_topic(brokers.kafka_bootstrap, settings.kafka_topic)
    client = await connect(settings)  # Beanie and the outbox indexes, as the service has
    try:
        yield Outbox(brokers, settings, client, AppointmentStore(client, settings.kafka_topic))
        await client.drop_database(settings.mongo_database)
    finally:
        await client.close()
