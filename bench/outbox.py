"""The outbox's lag to Kafka: how long after its commit an event reaches a consumer.

A consumer outside any group reads the topic from its end, in a thread with its own event
loop (so the load the benchmark drives never delays a receipt), and notes when each record
arrived. The commit time is the outbox row's ``created_at`` (``outbox_events``, ``_id`` =
the envelope's ``event_id``), written in the same transaction as the change; the relay
process publishes the row."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from bench.stats import percentile

OUTBOX = "outbox_events"
_CHUNK = 100  # the local MongoDB's $in costs quadratically in its list (projections/view_store)
_READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Received:
    event_id: str
    received_at: float  # epoch seconds, when the consumer got the record
    produced_at: float  # epoch seconds, the record's Kafka timestamp (the relay's send)
    type: str = ""  # the envelope's event type
    key: str | None = None  # the record's key (the appointment's id, the waitlist entry's)


@dataclass(frozen=True)
class Lag:
    event_id: str
    committed_at: float  # epoch seconds
    received_ms: float  # receipt - commit
    produced_ms: float  # Kafka timestamp - commit


class TopicWatcher:
    """Notes every record that arrives on ``topic`` from ``start()`` to ``stop()``."""

    def __init__(self, bootstrap: str, topic: str, fetch_max_wait_ms: int = 20) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._received: list[Received] = []
        self.last_received_at = time.time()  # epoch seconds (the start, until a record came)
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="topic-watcher", daemon=True)

    def start(self) -> None:
        """Returns once the consumer stands at the topic's end."""
        self._thread.start()
        if not self._ready.wait(_READY_TIMEOUT) or self._error is not None:
            self._stopping.set()
            raise RuntimeError(f"the topic watcher did not start: {self._error!r}")

    def received(self) -> list[Received]:
        """What arrived so far (the watcher keeps watching)."""
        return list(self._received)

    def stop(self) -> list[Received]:
        self._stopping.set()
        self._thread.join(timeout=10)
        if self._error is not None:
            raise RuntimeError("the topic watcher failed") from self._error
        return list(self._received)

    def _main(self) -> None:
        try:
            asyncio.run(self._consume())
        except BaseException as error:  # reported by start() or stop()
            self._error = error
            self._ready.set()

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            await consumer.topics()  # loads the metadata
            numbers = consumer.partitions_for_topic(self._topic) or set()
            if not numbers:
                raise RuntimeError(f"topic {self._topic} has no partitions")
            partitions = [TopicPartition(self._topic, p) for p in sorted(numbers)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:  # resolve the end offsets now, not at first fetch
                await consumer.position(partition)
            self._ready.set()
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=100)
                now = time.time()
                if batches:
                    self.last_received_at = now
                for records in batches.values():
                    for record in records:
                        envelope: dict[str, Any] = json.loads(record.value or b"{}")
                        self._received.append(
                            Received(
                                str(envelope.get("event_id")),
                                now,
                                record.timestamp / 1000,
                                str(envelope.get("type", "")),
                                record.key.decode() if record.key is not None else None,
                            )
                        )
        finally:
            await consumer.stop()


async def commit_times(
    database: AsyncDatabase[dict[str, Any]], event_ids: Iterable[str]
) -> dict[str, float]:
    """Each outbox row's ``created_at`` (epoch seconds) by event id."""
    ids = sorted(set(event_ids))
    found: dict[str, float] = {}
    for i in range(0, len(ids), _CHUNK):
        query = {"_id": {"$in": ids[i : i + _CHUNK]}}
        async for row in database[OUTBOX].find(query, {"created_at": 1}):
            created: datetime = row["created_at"]
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            found[row["_id"]] = created.timestamp()
    return found


def lags(received: Sequence[Received], committed: dict[str, float]) -> list[Lag]:
    """The lag of each event's first receipt (a redelivery is not a new event); events
    without a known commit time are left out."""
    first: dict[str, Received] = {}
    for record in received:
        if record.event_id not in first or record.received_at < first[record.event_id].received_at:
            first[record.event_id] = record
    return [
        Lag(
            event_id,
            committed[event_id],
            (record.received_at - committed[event_id]) * 1000,
            (record.produced_at - committed[event_id]) * 1000,
        )
        for event_id, record in first.items()
        if event_id in committed
    ]


def committed_within(found: Sequence[Lag], windows: Sequence[tuple[float, float]]) -> list[Lag]:
    """The lags of events committed inside one of ``windows`` (epoch seconds, inclusive)."""
    return [lag for lag in found if any(lo <= lag.committed_at <= hi for lo, hi in windows)]


class OutboxFigures(BaseModel):
    """Lag from the outbox row's commit to its receipt by a consumer (``received``) and to
    the record's Kafka timestamp (``produced``: the relay's part alone)."""

    scope: str
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    produced_p50_ms: float | None
    produced_p99_ms: float | None


def figures(scope: str, found: Sequence[Lag]) -> OutboxFigures:
    received = [lag.received_ms for lag in found]
    produced = [lag.produced_ms for lag in found]

    def at(values: Sequence[float], q: float) -> float | None:
        value = percentile(values, q)
        return None if value is None else round(value, 2)

    return OutboxFigures(
        scope=scope,
        count=len(found),
        p50_ms=at(received, 50),
        p95_ms=at(received, 95),
        p99_ms=at(received, 99),
        max_ms=at(received, 100),
        produced_p50_ms=at(produced, 50),
        produced_p99_ms=at(produced, 99),
    )
