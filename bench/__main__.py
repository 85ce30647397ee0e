"""``python -m bench`` (``make bench``): start the local stack on free ports, measure, print
the tables beside the targets, write the JSON report, stop the stack.

Order of the measurements: booking (baseline then saga at each level, with the topic
watched for the outbox lag), memory right after, then cancellations timed to their
waitlist offer on Kafka, then the read view is filled and the schedule reads are
measured, then many journeys are started and left idle (the worker's
and the Temporal server's memory and idle CPU with them live)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from loguru import logger
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from bench.booking import InlineBooker, SagaBooker, booking_levels
from bench.cpu import cpu_snapshot
from bench.journeys import (
    IDLE_SECONDS,
    JOURNEYS,
    QUICK_IDLE_SECONDS,
    QUICK_JOURNEYS,
    JourneysReport,
    measure_journeys,
)
from bench.machine import machine_info
from bench.memory import ProcessMemory, measure
from bench.outbox import OutboxFigures, TopicWatcher, commit_times, committed_within, figures, lags
from bench.reads import explain_schedule, fill_view, schedule_reads
from bench.report import (
    READ_VIEW_ROWS,
    BenchReport,
    BookingReport,
    Options,
    ReadsReport,
    booking_report,
    evaluate_targets,
    journey_targets,
    render_report,
    waitlist_targets,
    write_json,
)
from bench.slots import SlotPool, availability_fetcher, directory
from bench.stack import running_stack
from bench.waitlist import QUICK_SAMPLES, SAMPLES, ApiDoors, WaitlistReport, offer_latency
from config import Settings
from localstack.service import LocalService
from peers.contracts import Doctor, Patient
from simulators.seed_data import ON_CALL_DOCTOR_ID
from workflows.client import connect_temporal

Raw = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
QUICK: dict[str, Any] = {
    "levels": [1, 4],
    "seconds": 5.0,
    "warmup": 1.0,
    # A smoke run: a smaller view (the reads target is then not judged, with a warning).
    "view_size": 20_000,
    "read_seconds": 5.0,
    # Fewer live journeys (the targets, named for 10,000, are then not judged).
    "journeys": QUICK_JOURNEYS,
    "idle_seconds": QUICK_IDLE_SECONDS,
    "offers": QUICK_SAMPLES,
}
# The bench stack's settings unless ``--set`` says otherwise: without quiet hours, so that
# the waitlist's offers go out whatever the hour (the row measures the path, not the night).
STACK_DEFAULTS: dict[str, object] = {"quiet_hours": "off"}
# The service's settings that shape the figures, recorded beside them.
SETTINGS_SHOWN = (
    "saga_local_steps",
    "booking_wait_seconds",
    "billing_outage_policy",
    "peer_timeout_seconds",
    "slot_hold_minutes",
    "relay_batch_size",
    "relay_poll_seconds",
    "kafka_linger_ms",
    "kafka_acks",
    "quiet_hours",
)
OUTBOX_SETTLE_SECONDS = 2.0  # the topic is quiet this long: the load's events are all in
OUTBOX_SETTLE_LIMIT = 30.0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def levels_list(text: str) -> list[int]:
    """The levels of ``--levels``: "1,4,16,32" gives [1, 4, 16, 32], all positive."""
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("levels must be positive integers, e.g. 1,4,16,32")
    return levels


def setting(text: str) -> tuple[str, str]:
    """A ``--set``: "saga_local_steps=false" gives ("saga_local_steps", "false"); the
    service's settings parse the value as they parse the environment."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"not NAME=VALUE: {text!r}")
    if name not in Settings.model_fields:
        raise argparse.ArgumentTypeError(f"the service has no setting {name!r}")
    return name, value


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    cli.add_argument("--levels", type=levels_list, help="booking concurrency levels (1,4,16,32)")
    cli.add_argument("--seconds", type=float, help="measured seconds per booking level (15)")
    cli.add_argument("--warmup", type=float, help="warm-up seconds before each run (2)")
    cli.add_argument("--view-size", type=int, help="rows in the read view for the reads (100000)")
    # The local MongoDB stand-in answers one query at a time: with more reads in flight
    # each waits for the others, and the p99 measures that queue, not a read.
    cli.add_argument("--read-concurrency", type=int, default=1, help="reads in flight at once (1)")
    cli.add_argument("--read-seconds", type=float, help="measured seconds per read kind (10)")
    cli.add_argument("--no-reads", action="store_true", help="skip the read view part")
    cli.add_argument(
        "--journeys", type=int, help=f"live journeys to start and leave idle ({JOURNEYS}; 0: skip)"
    )
    cli.add_argument(
        "--idle-seconds", type=float, help=f"the journeys' idle CPU window ({IDLE_SECONDS:g})"
    )
    cli.add_argument(
        "--offers",
        type=int,
        help=f"cancellations timed to their waitlist offer on Kafka ({SAMPLES}; 0: skip)",
    )
    cli.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the report goes")
    cli.add_argument("--data-dir", type=Path, help="keep the stack's data here (default: temp)")
    cli.add_argument(
        "--set",
        dest="overrides",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the service, e.g. saga_local_steps=false (repeatable)",
    )
    cli.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: levels 1,4, 5 s each, a view of 20,000 rows, 5 s reads, "
        f"1,000 journeys idle for 10 s, {QUICK_SAMPLES} waitlist offers",
    )
    return cli


def stack_overrides(options: Options) -> dict[str, object]:
    """The stack's settings: ``STACK_DEFAULTS``, then what ``--set`` gave."""
    return {**STACK_DEFAULTS, **options.overrides}


def options_from(args: argparse.Namespace) -> Options:
    quick: dict[str, Any] = QUICK if args.quick else {}

    def pick(name: str, default: Any) -> Any:
        given = getattr(args, name)
        return given if given is not None else quick.get(name, default)

    return Options(
        levels=pick("levels", [1, 4, 16, 32]),
        seconds=pick("seconds", 15.0),
        warmup_seconds=pick("warmup", 2.0),
        view_size=pick("view_size", READ_VIEW_ROWS),
        read_concurrency=args.read_concurrency,
        read_seconds=pick("read_seconds", 10.0),
        quick=args.quick,
        overrides=dict(args.overrides),
        journeys=pick("journeys", JOURNEYS),
        idle_seconds=pick("idle_seconds", IDLE_SECONDS),
        waitlist_samples=pick("offers", SAMPLES),
    )


@dataclass
class Measured:
    notes: list[str]
    settings: dict[str, str | int | float | bool]
    booking: BookingReport
    outbox: list[OutboxFigures]
    outbox_levels: dict[int, OutboxFigures]  # the lag at each saga level, by concurrency
    memory: list[ProcessMemory]
    reads: ReadsReport | None
    journeys: JourneysReport | None
    waitlist: WaitlistReport | None


def stack_processes(service: LocalService) -> dict[str, tuple[int, bool]]:
    """Each process of the stack by a short name: (pid, with its descendants). ``bench`` is
    this process, which runs the baseline and drives the load (its children, the stack,
    are not its own)."""
    named = {
        "api": service.api.pid,
        "worker": service.worker.pid,
        "temporal": service.infra.temporal.pid,
        "mongo": service.infra.mongo.pid,
        "simulators": service.simulators.pid,
        "relay": service.relay.pid,
        "projector": service.projector.pid,
        "notifications": service.notifications.pid,
        "kafka": service.infra.kafka.pid,
    }
    found = {name: (pid, True) for name, pid in named.items() if pid is not None}
    found["bench"] = (os.getpid(), False)
    return found


def stack_memory(processes: dict[str, tuple[int, bool]]) -> list[ProcessMemory]:
    return [
        measure(name, pid, descendants=descendants)
        for name, (pid, descendants) in processes.items()
    ]


async def settle(watcher: TopicWatcher) -> None:
    """Wait until the topic has been quiet for a moment (the relay has caught up)."""
    deadline = time.monotonic() + OUTBOX_SETTLE_LIMIT
    while time.monotonic() < deadline:
        if time.time() - watcher.last_received_at >= OUTBOX_SETTLE_SECONDS:
            return
        await asyncio.sleep(0.2)


@dataclass
class BookingPart:
    booking: BookingReport
    outbox: list[OutboxFigures]
    outbox_levels: dict[int, OutboxFigures]  # the lag at each saga level, by concurrency
    memory: list[ProcessMemory]
    retried: int  # the baseline's step attempts retried after a transient fault


async def measure_booking(
    client: httpx.AsyncClient,
    service: LocalService,
    options: Options,
    pool: SlotPool,
    database: AsyncDatabase[Raw],
) -> BookingPart:
    """Baseline and saga at each level with the topic watched; memory right after; then
    the outbox lag from what the watcher received."""
    settings = service.settings
    processes = stack_processes(service)
    watcher = TopicWatcher(service.infra.kafka_bootstrap, settings.kafka_topic)
    watcher.start()
    try:
        async with InlineBooker.connected(settings) as inline:
            saga = SagaBooker(client, service.api_url, service.token("staff", "bench", 600))
            runs = await booking_levels(
                pool,
                [("baseline", inline.book), ("saga", saga.book)],
                options.levels,
                seconds=options.seconds,
                warmup_seconds=options.warmup_seconds,
                progress=progress,
                cpu=lambda: cpu_snapshot(processes),
            )
            retried = inline.retries
        memory = stack_memory(processes)
        await settle(watcher)
    finally:
        received = watcher.stop()

    every = lags(received, await commit_times(database, (r.event_id for r in received)))
    saga_windows = [(run.started_at, run.ended_at) for run in runs["saga"]]
    outbox_levels = {
        run.summary.concurrency: figures(
            f"... at concurrency {run.summary.concurrency}",
            committed_within(every, [(run.started_at, run.ended_at)]),
        )
        for run in runs["saga"]
    }
    outbox = [
        figures("committed during the saga load", committed_within(every, saga_windows)),
        *outbox_levels.values(),
        figures("all of the booking part (baseline too)", every),
    ]
    booking = booking_report(
        [run.summary for run in runs["baseline"]],
        [run.summary for run in runs["saga"]],
        options.seconds,
        options.warmup_seconds,
        [
            (base.cpu_percent, saga.cpu_percent)
            for base, saga in zip(runs["baseline"], runs["saga"], strict=True)
        ],
    )
    return BookingPart(booking, outbox, outbox_levels, memory, retried)


async def measure_all(
    service: LocalService, options: Options, phases: dict[str, float], with_reads: bool
) -> Measured:
    settings = service.settings
    biggest = max([*options.levels, options.read_concurrency])
    limits = httpx.Limits(max_connections=biggest + 4, max_keepalive_connections=biggest + 4)
    doctor_url, patient_url = service.peer_url("doctor"), service.peer_url("patient")
    mongo: AsyncMongoClient[Raw] = AsyncMongoClient(settings.mongo_uri, tz_aware=True)
    database = mongo[settings.mongo_database]
    try:
        async with httpx.AsyncClient(timeout=120.0, limits=limits) as client:
            doctors, patients = await directory(client, doctor_url, patient_url)
            fetch = availability_fetcher(client, doctor_url)
            pool = SlotPool(doctors, [p.id for p in patients], fetch)

            began = time.perf_counter()
            part = await measure_booking(client, service, options, pool, database)
            phases["booking"] = time.perf_counter() - began

            waitlist = None
            if options.waitlist_samples > 0:
                began = time.perf_counter()
                patient_ids = [p.id for p in patients]
                waitlist = await measure_waitlist(client, service, options, pool, patient_ids)
                phases["waitlist"] = time.perf_counter() - began

            reads = None
            if with_reads:
                reads = await measure_reads(client, service, options, database, doctors, patients)
                phases.update(reads_phases(reads))

            journeys = None
            if options.journeys > 0:
                began = time.perf_counter()
                journeys = await measure_live_journeys(service, options)
                phases["journeys"] = time.perf_counter() - began
    finally:
        await mongo.close()
    shown = {key: getattr(settings, key, None) for key in SETTINGS_SHOWN}
    return Measured(
        notes=[
            f"the baseline retried {part.retried} step attempts after a transient fault (as "
            "the saga's retry policies would)"
        ],
        settings={k: v for k, v in shown.items() if isinstance(v, str | int | float | bool)},
        booking=part.booking,
        outbox=part.outbox,
        outbox_levels=part.outbox_levels,
        memory=part.memory,
        reads=reads,
        journeys=journeys,
        waitlist=waitlist,
    )


async def measure_waitlist(
    client: httpx.AsyncClient,
    service: LocalService,
    options: Options,
    pool: SlotPool,
    patient_ids: list[str],
) -> WaitlistReport:
    """Cancellations one at a time, each timed to its entry's offer on the waitlist topic."""
    progress(f"waitlist offers: {options.waitlist_samples} cancellations")
    watcher = TopicWatcher(service.infra.kafka_bootstrap, service.settings.waitlist_topic)
    watcher.start()
    try:
        doors = ApiDoors(client, service.api_url, service.token("staff", "bench", 600))
        return await offer_latency(
            doors,
            pool,
            patient_ids,
            watcher.received,
            samples=options.waitlist_samples,
            progress=progress,
        )
    finally:
        watcher.stop()


async def measure_live_journeys(service: LocalService, options: Options) -> JourneysReport:
    """Journeys started on the stack's Temporal server; the worker and the server measured."""
    client = await connect_temporal(service.settings)
    processes = {
        name: (pid, True)
        for name, pid in (("worker", service.worker.pid), ("temporal", service.infra.temporal.pid))
        if pid is not None
    }
    return await measure_journeys(
        client,
        service.settings,
        processes,
        count=options.journeys,
        idle_seconds=options.idle_seconds,
        progress=progress,
    )


def reads_phases(reads: ReadsReport) -> dict[str, float]:
    return {"view fill": reads.fill.seconds, "reads": reads.measure_seconds}


async def measure_reads(
    client: httpx.AsyncClient,
    service: LocalService,
    options: Options,
    database: AsyncDatabase[Raw],
    doctors: list[Doctor],
    patients: list[Patient],
) -> ReadsReport:
    """Fill the view, explain the schedule query, measure the reads."""
    zone = service.settings.clinic_zone
    progress(f"read view: filling up to {options.view_size:,} rows")
    fill = await fill_view(database, doctors, patients, options.view_size, zone, progress=progress)

    began = time.perf_counter()
    middle = fill.first_day + (fill.last_day - fill.first_day) // 2
    lower = datetime.combine(middle, datetime.min.time(), zone)
    on_call = next((d.id for d in doctors if d.id == ON_CALL_DOCTOR_ID), doctors[0].id)
    explain = await explain_schedule(database, on_call, lower, lower + timedelta(days=7))
    for plan in explain:
        progress(f"  plan, {plan.label}: {plan.winning_plan} ({plan.server_ms} ms on the server)")
    queries = await schedule_reads(
        client,
        service.api_url,
        service.token("staff", "bench", 600),
        doctors,
        fill,
        zone,
        concurrency=options.read_concurrency,
        seconds=options.read_seconds,
        progress=progress,
    )
    return ReadsReport(
        concurrency=options.read_concurrency,
        seconds=options.read_seconds,
        measure_seconds=round(time.perf_counter() - began, 1),
        fill=fill,
        explain=explain,
        queries=queries,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = options_from(args)
    notes: list[str] = []
    if not args.no_reads and options.view_size < READ_VIEW_ROWS:
        notes.append(
            f"the read view holds {options.view_size:,} rows, fewer than {READ_VIEW_ROWS:,}: "
            "the read target is not judged"
        )
        progress(f"warning: {notes[-1]}")
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    machine = machine_info(ROOT)
    phases: dict[str, float] = {}
    began = time.perf_counter()
    progress("starting the local stack on free ports")
    with running_stack(args.data_dir, stack_overrides(options)) as service:
        phases["stack start"] = time.perf_counter() - began
        # The baseline's activities log like the worker's: JSON lines into a file.
        sink = logger.add(service.infra.log_dir / "bench.log", level="INFO", serialize=True)
        try:
            measured = asyncio.run(measure_all(service, options, phases, not args.no_reads))
        finally:
            logger.remove(sink)
        stopping = time.perf_counter()
        progress("stopping the local stack")
    phases["stack stop"] = time.perf_counter() - stopping
    headline = measured.outbox[0] if measured.outbox else None
    report = BenchReport(
        machine=machine,
        options=options,
        settings=measured.settings,
        wall_seconds=round(time.perf_counter() - began, 1),
        phases={name: round(seconds, 1) for name, seconds in phases.items()},
        booking=measured.booking,
        reads=measured.reads,
        outbox=measured.outbox,
        memory=measured.memory,
        targets=[
            *evaluate_targets(measured.booking, measured.reads, headline, measured.outbox_levels),
            *journey_targets(measured.journeys),
            *waitlist_targets(measured.waitlist),
        ],
        notes=notes + measured.notes,
        journeys=measured.journeys,
        waitlist=measured.waitlist,
    )
    print(render_report(report), flush=True)
    write_json(report, args.json)
    progress(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        progress("interrupted: the stack was stopped")
        sys.exit(130)
