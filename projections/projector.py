"""The projector process: keeps the CQRS read view (``appointment_read_view``, and the
doctor's days of ``projections.days``) current.

``appointment-service projector`` follows the event store; ``appointment-service
projector rebuild`` drops the view and builds it again from every event;
``appointment-service projector alive`` is the liveness probe (``telemetry.heartbeat``).

**Why it reads the event store, not the Kafka topic.** ``appointment_events`` is the
durable source of truth (ARCHITECTURE §3): every change is there, committed with its
state, with a gap-free ``seq`` per appointment that lets the fold check it missed
nothing. The topic is a copy that arrives through the outbox relay, so following it
would add the relay's lag and outages to the view's, and on the local stack the topic
lives in memory only (ARCHITECTURE §5): after a restart it is empty while MongoDB holds
everything, and a view built from it could not be rebuilt at all.

**How it follows.** A MongoDB change stream on inserts into the event store brings each
new event; those that continue their appointment's row without a gap are folded as they
come, and the store is read for the others (see ``projections.projection``: idempotent
per event, so order and duplicates in the stream do not matter). Once every
``checkpoint_seconds`` (0.5 s) at most, after a batch, the stream's resume token is saved
as the checkpoint (``projection_checkpoints``), and a restart resumes after it: nothing
written while the projector was down is missed. A crash loses no event either, it only
folds again (to no effect) what came after the checkpoint: at most that half second of
events. (Saved after every batch, the checkpoint was a command per batch.)

Without a checkpoint (a first start, or a resume token the server no longer accepts) the
stream position is recorded FIRST, then every event is caught up, then the stream is
followed from the recorded position: an event committed during the catch-up may be
folded twice (harmless), but is never missed.

SIGTERM or SIGINT: the batch at hand is finished, the checkpoint saved, and the process
exits 0. (If a peer is down at that moment, the batch is abandoned unsaved instead, and
projected again on the next start.)"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.errors import OperationFailure, PyMongoError

from config import Settings, load_settings
from config.logging import configure_logging
from peers.doctors import DoctorClient
from peers.patients import PatientClient
from persistence.database import connect
from projections.fold import StoredEvent
from projections.names import Directory
from projections.projection import Projection, Tally
from projections.read_view import READ_VIEW
from projections.retry import Backoff, Stopping, pause
from projections.view_store import ViewStore
from telemetry.heartbeat import Heartbeat, check_alive
from telemetry.progress import Progress

# What a server answers to a resume token it cannot resume from: unparsable or invalid
# (9, 260), from a stream it cannot continue (280), or older than its history (286).
LOST_TOKEN_CODES = frozenset({9, 260, 280, 286})


def lost_token(error: OperationFailure) -> bool:
    return error.code in LOST_TOKEN_CODES or "resume token" in str(error).lower()


@dataclass(frozen=True, slots=True)
class FollowOptions:
    batch_size: int = 500  # change events per batch at most
    max_await_ms: int = 200  # how long one wait for changes lasts: bounds stop latency
    # After projecting, the checkpoint is saved once this long has passed since the last
    # save (and on a graceful stop): a crash folds at most this much again.
    checkpoint_seconds: float = 0.5
    idle_checkpoint_seconds: float = 30.0  # with no events, move the checkpoint this often
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5))


async def fresh_position(store: ViewStore) -> Mapping[str, Any]:
    """The change stream's current position: every event from here on will be streamed."""
    stream = await store.watch(None, max_await_ms=1, batch_size=1)
    async with stream:
        token = stream.resume_token
    if token is None:
        raise RuntimeError("the server gave the new change stream no resume token")
    return token


class Projector:
    def __init__(
        self,
        store: ViewStore,
        projection: Projection,
        stop: asyncio.Event,
        options: FollowOptions | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._store, self._projection, self._stop = store, projection, stop
        self._options = options or FollowOptions()
        self._heartbeat = heartbeat
        self._failures = 0  # in a row: the backoff grows with them

    async def run(self) -> None:
        """Follow the event store until stopped. When MongoDB fails, wait (with backoff)
        and resume from the last checkpoint; when it no longer knows that checkpoint's
        token, forget it, which makes the next round a full catch-up."""
        while not self._stop.is_set():
            self._beat()
            try:
                await self._follow()
            except Stopping:
                break
            except OperationFailure as error:
                if not lost_token(error):
                    await self._wait_out(error)
                    continue
                logger.warning("resume token no longer valid ({}): full catch-up", error)
                await self._store.forget_checkpoint()
            except PyMongoError as error:
                await self._wait_out(error)
        logger.info("projector stopped")

    def _beat(self, _progress: object = None) -> None:
        """Every round of the follow loop (at least every ``max_await_ms``), every batch
        of a catch-up, every retry after a MongoDB fault: only a stuck loop goes quiet."""
        if self._heartbeat is not None:
            self._heartbeat.beat()

    async def _wait_out(self, error: PyMongoError) -> None:
        delay = self._options.backoff.delay(self._failures)
        self._failures += 1
        logger.warning("MongoDB failed ({}); resuming from the checkpoint in {:.1f}s", error, delay)
        with contextlib.suppress(Stopping):  # stopping ends the loop in ``run``
            await pause(self._stop, delay)

    async def _follow(self) -> None:
        token = await self._store.checkpoint()
        if token is None:
            token = await self._catch_up()
        # After a first catch-up (rows load faster into an unindexed view), and on every
        # start: creating an index that exists changes nothing.
        await self._store.index_view()
        if await self._store.days_missing():  # a view made before the doctor's days were
            logger.info("filling the doctor's days from the rows")
            await self._store.days_from_rows()
        options = self._options
        stream = await self._store.watch(
            token, max_await_ms=options.max_await_ms, batch_size=options.batch_size
        )
        logger.info("projector following the event store into {}", READ_VIEW)
        self._failures = 0
        saved_at = time.monotonic()
        projected = False  # since the checkpoint was saved
        async with stream:
            while not self._stop.is_set():
                self._beat()
                seen = await self._next_batch(stream)
                if seen:
                    tally = await self._projection.project(seen.keys(), seen)
                    logger.bind(rows=tally.rows, events=tally.events).debug("projected a batch")
                    projected = True
                wait = options.checkpoint_seconds if projected else options.idle_checkpoint_seconds
                if time.monotonic() - saved_at < wait:
                    continue  # the checkpoint may wait: a crash only folds events again
                token = await self._save(stream, token)
                saved_at, projected = time.monotonic(), False
            await self._save(stream, token)  # stopping: every batch so far is in the view

    async def _save(
        self, stream: AsyncChangeStream[dict[str, Any]], saved: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """Save the stream's position as the checkpoint (every batch taken from the stream
        is in the view: everything up to that position is), unless it is ``saved``."""
        token = stream.resume_token
        if token is None or token == saved:
            return saved
        await self._store.save_checkpoint(token)
        return token

    async def _next_batch(
        self, stream: AsyncChangeStream[dict[str, Any]]
    ) -> dict[str, list[StoredEvent]]:
        """The events of up to ``batch_size`` changes, by appointment; waits at most
        ``max_await_ms`` for the first, and ends when no more are at hand."""
        seen: dict[str, list[StoredEvent]] = {}
        for _ in range(self._options.batch_size):
            change = await stream.try_next()
            if change is None:
                break
            event = StoredEvent.from_raw(change["fullDocument"])
            seen.setdefault(event.appointment_id, []).append(event)
        return seen

    async def _catch_up(self) -> Mapping[str, Any]:
        position = await fresh_position(self._store)
        logger.info("no checkpoint: catching up over every event before following")
        started = time.monotonic()
        tally = await self._projection.catch_up(self._stop, on_batch=self._beat)
        await self._store.save_checkpoint(position)
        logger.bind(rows=tally.rows, events=tally.events).info(
            "caught up in {:.1f}s", time.monotonic() - started
        )
        return position


async def rebuild(
    store: ViewStore,
    projection: Projection,
    stop: asyncio.Event,
    on_batch: Callable[[Tally], None] | None = None,
) -> Tally:
    """Drop the view (rows and days) and its checkpoint and build them again from every
    event.

    The stream position is recorded before the view is dropped, and stored as the
    checkpoint once every event is folded: a projector started afterwards streams what
    was written during the rebuild. Interrupted, it leaves no checkpoint, so the next
    projector start catches up in full. A projector running meanwhile does no harm (rows
    only ever move forward), but stopping it first saves work. The view's indexes are
    built after the rows are in (faster), so queries are slow until the rebuild ends, and
    the doctor's days are filled from the rows at the end (``ViewStore.days_from_rows``):
    a schedule shows nothing until then."""
    position = await fresh_position(store)
    await store.forget_checkpoint()
    await store.drop_view()
    try:
        tally = await projection.catch_up(stop, empty=True, on_batch=on_batch)
    finally:
        await store.index_view()  # also when interrupted: queries need them either way
    await store.save_checkpoint(position)
    return tally


async def _serve(settings: Settings, command: str | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mongo = await connect(settings)
    timeout = settings.peer_timeout_seconds
    patients = PatientClient(settings.patient_service_url, timeout)
    doctors = DoctorClient(settings.doctor_service_url, timeout)
    try:
        store = ViewStore(mongo[settings.mongo_database])
        heartbeat = Heartbeat.of(settings, "projector")
        following = command != "rebuild"
        directory = Directory(
            patients, doctors, stop, waiting=heartbeat.beat if following else None
        )
        projection = Projection(store, directory, settings.clinic_zone)
        if following:
            await Projector(store, projection, stop, heartbeat=heartbeat).run()
            return 0
        started = time.monotonic()
        # On a terminal only: a line with events folded, rate and ETA (stderr).
        progress = Progress("rebuild", await store.count_events(), unit="events")
        try:
            with progress:
                tally = await rebuild(store, projection, stop, lambda t: progress.update(t.events))
        except Stopping:
            print("rebuild interrupted; the projector catches up in full when it next starts")
            return 1
        seconds = time.monotonic() - started
        print(
            f"rebuilt {READ_VIEW}: {tally.rows} rows from {tally.events} events "
            f"in {seconds:.1f} s ({tally.events / max(seconds, 1e-9):.0f} events/s)"
        )
        return 0
    finally:
        await asyncio.gather(patients.aclose(), doctors.aclose())
        await mongo.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="appointment-service projector",
        description="Keep the schedule read view current, or rebuild it from the events.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["rebuild", "alive"],
        help="rebuild: drop the read view and rebuild it from every event (a progress line "
        "on a terminal; prints rows, events, time); alive: the liveness probe, exit 1 if "
        "the projector loop's heartbeat is older than --max-age",
    )
    parser.add_argument("--max-age", type=float, help="alive: seconds (default: the setting)")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings, "projector")
    if args.command == "alive":
        sys.exit(check_alive(settings, "projector", args.max_age))
    sys.exit(asyncio.run(_serve(settings, args.command)))
