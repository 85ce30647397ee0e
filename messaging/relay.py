"""The outbox relay: ``outbox_events`` rows -> Kafka, then marked published.

What it guarantees:

- **At least once.** A row is marked published only after Kafka acknowledged it (acks as
  configured; ``all`` in production). A crash between the ack and the mark republishes
  the row on restart, so consumers dedupe by ``event_id``; nothing is ever lost, because
  MongoDB, not the topic, is the durable source (ARCHITECTURE §5).
- **Per-appointment order** (key = appointment id -> one partition). Rows go oldest first
  by ``created_at``; within an appointment strictly by ``seq``, also across batch
  boundaries and skewed clocks (``outbox.earlier_rows``). A row is sent only after the
  previous row of its appointment was acknowledged; if one fails, the later ones of that
  appointment wait behind it. Exception: a *parked* row does not hold its appointment
  back, so consumers see a gap in ``data.version`` there until an operator republishes it.
- **Poison rows are parked, the rest flows.** A row that breaks the contract is parked at
  once (``last_error`` says why). A row Kafka refuses for itself (too large, invalid) counts
  an attempt and is parked after ``relay_max_attempts``. Kafka being unreachable (also a
  topic missing after a restart of the local broker) counts nothing: the relay backs off
  exponentially up to ``relay_max_backoff_seconds``, builds a new producer, and retries.
- **One active relay** (``lease.Lease``): others wait as standbys.
- **Graceful stop**: SIGTERM or SIGINT ends the loop after the batch in flight is sent and
  its acks are marked; the lease is handed back; the process exits 0.

Wake-up: a change stream on ``outbox_events`` inserts wakes the relay at once; a poll every
``relay_poll_seconds`` covers a stream that is down or unsupported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from loguru import logger
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from config import Settings, load_settings
from config.logging import configure_logging
from domain.clock import now_utc
from messaging.kafka import error_text, is_transient, make_producer, security_options
from messaging.lease import LEASE_COLLECTION, LEASE_SECONDS, Lease, default_owner
from messaging.outbox import OutboxQueue
from messaging.publish import BatchOutcome, publish_batch
from messaging.republish import RepublishRefused, republish
from messaging.republish import describe as describe_republished
from messaging.status import describe, relay_status
from persistence.database import connect, open_client
from telemetry.heartbeat import Heartbeat, check_alive

_FIRST_BACKOFF_SECONDS = 0.5
# $changeStream needs a replica set (40573); a server without it: unknown stage (40324)
# or command (115). The poll alone then wakes the relay.
_CHANGE_STREAMS_UNSUPPORTED = {40573, 40324, 115}
# The stream only wakes the relay, so its events carry nothing of the row: without the
# projection the server would encode every inserted envelope a second time (issue #18).
_INSERTS: list[dict[str, Any]] = [
    {"$match": {"operationType": "insert"}},
    {"$project": {"operationType": 1}},
]


class KafkaUnavailable(Exception):
    """Kafka could not be reached (or timed out); the relay backs off and retries."""


@dataclass
class RelayStats:
    """Counters of one relay instance since it started (logs and tests read them)."""

    batches: int = 0
    published: int = 0
    parked: int = 0
    kafka_unavailable: int = 0  # cycles that found Kafka unreachable and backed off


class OutboxRelay:
    def __init__(
        self,
        settings: Settings,
        database: AsyncDatabase[dict[str, Any]],
        *,
        owner: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._settings = settings
        self._heartbeat = heartbeat
        self._queue = OutboxQueue(database)
        self._lease = Lease(
            database[LEASE_COLLECTION], owner=owner or default_owner(), ttl_seconds=lease_seconds
        )
        self._new_producer = producer_factory or (lambda: make_producer(settings))
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._backoff = _FIRST_BACKOFF_SECONDS
        self.stats = RelayStats()

    @property
    def owner(self) -> str:
        return self._lease.owner

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; then finish the batch in flight and return."""
        with contextlib.suppress(PyMongoError):
            await self._lease.acquire()  # at once, not one renewal period from now
        background = [
            asyncio.create_task(self._lease.keep(), name="relay-lease"),
            asyncio.create_task(self._watch_inserts(), name="relay-wake-up"),
        ]
        try:
            while not stop.is_set():
                if self._heartbeat is not None:
                    # Every round, standby, idle and backing off too: each ends in bounded
                    # time, so only a loop that is stuck or gone stops beating.
                    self._heartbeat.beat()
                try:
                    await self._cycle(stop)
                except (KafkaUnavailable, PyMongoError) as error:
                    await self._back_off(error, stop)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._drop_producer()
            await self._lease.release()
            logger.info("relay {} stopped: {}", self.owner, self.stats)

    async def _cycle(self, stop: asyncio.Event) -> None:
        """One batch, or one wait when there is nothing to do."""
        settings = self._settings
        if not self._lease.held:  # standby: a local check, so look often
            pause = min(settings.relay_poll_seconds, self._lease.renew_every / 4)
            await _wait_for(stop, seconds=pause)
            return
        producer = await self._ensure_producer()
        self._wake.clear()  # inserts from now on wake the next wait
        rows = await self._queue.next_batch(settings.relay_batch_size)
        if not rows:
            await self._idle(stop)
            return
        outcome = await publish_batch(producer, rows, send_timeout=self._send_timeout)
        await self._write_back(outcome)
        self.stats.batches += 1
        logger.debug(
            "batch: {} rows, {} published, {} parked/refused, {} failed, {} held back",
            len(rows),
            len(outcome.published),
            len(outcome.refused),
            len(outcome.failed),
            outcome.held_back,
        )
        if outcome.unavailable is not None:
            raise KafkaUnavailable(outcome.unavailable)
        self._backoff = _FIRST_BACKOFF_SECONDS
        if outcome.failed or len(rows) < settings.relay_batch_size:
            # Drained (a short batch took all there was), or a row failed: give it a poll
            # interval before its next attempt instead of spending its attempts at once.
            await self._idle(stop)

    @property
    def _send_timeout(self) -> float:
        # aiokafka may wait one request timeout for metadata and one for the ack.
        return 2 * self._settings.kafka_request_timeout_ms / 1000 + 5

    async def _write_back(self, outcome: BatchOutcome) -> None:
        """Mark what Kafka acknowledged FIRST (one write), then the failures."""
        await self._queue.mark_published(outcome.published, now_utc())
        self.stats.published += len(outcome.published)
        for row_id, error in outcome.refused.items():
            await self._queue.park(row_id, error)
            self.stats.parked += 1
            logger.warning("parked outbox event {}: {}", row_id, error)
        for row_id, error in outcome.failed.items():
            limit = self._settings.relay_max_attempts
            if await self._queue.record_failure(row_id, error, limit):
                self.stats.parked += 1
                logger.warning("parked outbox event {} after {} attempts: {}", row_id, limit, error)
            else:
                logger.info("outbox event {} not published (will retry): {}", row_id, error)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._new_producer()
            try:
                await producer.start()
            except Exception as error:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if is_transient(error):
                    raise KafkaUnavailable(error_text(error)) from error
                raise
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        """Close the producer (bounded: with Kafka down, a flush could wait long); the next
        cycle builds a fresh one, which also drops any metadata of a vanished topic."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self._send_timeout)

    async def _back_off(self, error: Exception, stop: asyncio.Event) -> None:
        ceiling = self._settings.relay_max_backoff_seconds
        delay = min(self._backoff, ceiling)
        self._backoff = min(delay * 2, ceiling)
        if isinstance(error, KafkaUnavailable):
            self.stats.kafka_unavailable += 1
            logger.warning("Kafka unavailable ({}); events wait, retry in {:.1f}s", error, delay)
            await self._drop_producer()
        else:
            logger.warning("MongoDB unavailable ({}); retry in {:.1f}s", error, delay)
        await _wait_for(stop, seconds=delay)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until a row is inserted (change stream), the poll interval passes, or stop."""
        wake = asyncio.create_task(self._wake.wait())
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait(
                [wake, stopped],
                timeout=self._settings.relay_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            wake.cancel()
            stopped.cancel()

    async def _watch_inserts(self) -> None:
        """Set the wake-up flag on every insert into the outbox; reopen the stream after an
        error. Only a signal: which rows to send is always read from the collection."""
        rows = self._queue.collection
        while True:
            try:
                stream = await rows.watch(_INSERTS)
                async with stream:
                    self._wake.set()  # inserts made while the stream was closed
                    async for _change in stream:
                        self._wake.set()
            except OperationFailure as error:
                if error.code in _CHANGE_STREAMS_UNSUPPORTED:
                    logger.info("no change streams ({}); polling the outbox only", error)
                    return
                logger.debug("outbox change stream failed ({}); reopening", error)
            except PyMongoError as error:
                logger.debug("outbox change stream failed ({}); reopening", error)
            await asyncio.sleep(self._settings.relay_poll_seconds)


async def _wait_for(event: asyncio.Event, *, seconds: float) -> None:
    """Sleep ``seconds``, but wake as soon as ``event`` (stop) is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def _serve(settings: Settings) -> None:
    # Kafka's TLS files and credentials are checked now, not when this relay first holds
    # the lease: a standby with a broken setting must not look healthy.
    security_options(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await connect(settings)  # also creates the outbox indexes the relay reads by
    try:
        heartbeat = Heartbeat.of(settings, "relay")
        relay = OutboxRelay(settings, client[settings.mongo_database], heartbeat=heartbeat)
        logger.info("relay {} starts; Kafka {}", relay.owner, settings.kafka_bootstrap_servers)
        await relay.run(stop)
    finally:
        await client.close()


async def _status(settings: Settings, as_json: bool) -> None:
    client: AsyncMongoClient[dict[str, Any]] = open_client(settings)
    try:
        status = await relay_status(client[settings.mongo_database])
    finally:
        await client.close()
    print(status.model_dump_json() if as_json else describe(status))


async def _republish(settings: Settings, event_ids: list[str] | None, dry_run: bool) -> int:
    client: AsyncMongoClient[dict[str, Any]] = open_client(settings)
    try:
        result = await republish(client[settings.mongo_database], event_ids, dry_run=dry_run)
    except RepublishRefused as refused:
        for reason in refused.reasons:
            print(f"refused: {reason}", file=sys.stderr)
        print("nothing republished", file=sys.stderr)
        return 2
    finally:
        await client.close()
    print(describe_republished(result))
    return 0


def main(argv: list[str]) -> None:
    """``appointment-service relay`` runs the relay; ``relay status [--json]`` reports;
    ``relay republish`` puts parked events back; ``relay alive`` is the liveness probe."""
    parser = argparse.ArgumentParser(
        prog="appointment-service relay",
        description="Publish the MongoDB outbox to Kafka (at least once, in order per "
        "appointment), or report its backlog.",
    )
    commands = parser.add_subparsers(dest="command")
    status = commands.add_parser("status", help="backlog, parked events, oldest age")
    status.add_argument("--json", action="store_true", help="one JSON object")
    again = commands.add_parser(
        "republish",
        help="put parked events back into the queue (after their cause is fixed)",
        description="Put parked outbox events back into the queue, attempts reset; the "
        "running relay publishes them. All or nothing: an unknown, published or unparked "
        "event id refuses the whole command.",
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("event_ids", nargs="*", default=[], metavar="EVENT_ID", help="event ids")
    which.add_argument("--all-parked", action="store_true", help="every parked event")
    again.add_argument("--dry-run", action="store_true", help="list them, change nothing")
    alive = commands.add_parser(
        "alive", help="liveness probe: exit 1 if the relay loop's heartbeat is too old"
    )
    alive.add_argument("--max-age", type=float, help="seconds (default: the setting)")
    args = parser.parse_args(argv)
    if args.command == "republish" and not (args.event_ids or args.all_parked):
        again.error("name EVENT_IDs or --all-parked")
    settings = load_settings()
    configure_logging(settings, "relay")
    if args.command == "status":
        asyncio.run(_status(settings, args.json))
    elif args.command == "alive":
        sys.exit(check_alive(settings, "relay", args.max_age))
    elif args.command == "republish":
        ids = None if args.all_parked else list(args.event_ids)
        sys.exit(asyncio.run(_republish(settings, ids, args.dry_run)))
    else:
        asyncio.run(_serve(settings))
