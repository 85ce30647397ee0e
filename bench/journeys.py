"""What many live journeys cost (issue #15): one ``AppointmentJourneyWorkflow`` per active
appointment means many long-idle workflows.

N journeys are started directly on the bench stack's Temporal server, as the booking saga
starts them, for appointments a year ahead: no timer fires while they are measured, so
none needs a stored appointment (an activity reads it only when a timer fires). Once every
one has run its first workflow task (planned its first reminder and set ``NextActionAt``:
idle), the worker's and the Temporal server's resident memory are read and their CPU is
measured over an idle window, as % of one core. The same is measured before the journeys
start, so the difference is theirs. Plus the history length of one journey.

The Temporal server is the dev server (one process: frontend, history, matching, the Web
UI, SQLite): a cluster spreads the same work over its services."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from bench.cpu import cpu_percent, cpu_snapshot
from bench.memory import measure
from config import Settings
from domain.status import AppointmentStatus
from workflows.contracts import journey
from workflows.contracts.journey import Facts, JourneyRequest, Rules
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, PATIENT_ID

JOURNEYS = 10_000
QUICK_JOURNEYS = 1_000
IDLE_SECONDS = 30.0
QUICK_IDLE_SECONDS = 10.0
START_CONCURRENCY = 32
# Far enough ahead that no reminder (offsets up to a few days) is due while measured.
AHEAD = timedelta(days=300)
SETTLE_LIMIT_SECONDS = 1800.0
# Live journeys, as the Web UI's list would query them: idle ones have a NextActionAt.
LIVE_IDLE = (
    f'WorkflowType="{journey.WORKFLOW}" AND ExecutionStatus="Running" AND NextActionAt IS NOT NULL'
)

Processes = Mapping[str, tuple[int, bool]]


class Footprint(BaseModel):
    """The worker's and the server's resident memory (MiB) and idle CPU (% of one core)."""

    rss_mib: dict[str, float | None]
    peak_rss_mib: dict[str, float | None]
    idle_cpu_percent: dict[str, float]
    live_journeys: int


class JourneysReport(BaseModel):
    count: int  # journeys this measurement started
    idle_seconds: float  # the CPU window
    start_seconds: float  # until every start was accepted
    settle_seconds: float  # until every journey was idle (its first task done)
    before: Footprint
    after: Footprint
    history_events: int | None  # of one started journey, idle
    history_kinds: list[str]


def request_for(appointment_id: str, start: datetime, rules: Rules) -> JourneyRequest:
    """A journey of a SCHEDULED appointment starting at ``start``."""
    return JourneyRequest(
        appointment_id=appointment_id,
        patient_id="pat-bench",
        doctor_id="doc-bench",
        facts=Facts(status=AppointmentStatus.SCHEDULED, start=start, version=2),
        rules=rules,
    )


async def start_journeys(
    client: Client,
    settings: Settings,
    count: int,
    *,
    now: datetime,
    progress: Callable[[str], None],
    concurrency: int = START_CONCURRENCY,
) -> list[str]:
    """Start ``count`` journeys (a quarter hour apart, a year ahead); their workflow ids."""
    rules = Rules.of(settings.journey_rules)
    run = uuid.uuid4().hex[:8]
    first = (now + AHEAD).replace(minute=0, second=0, microsecond=0)
    limit = asyncio.Semaphore(concurrency)
    started: list[str] = []

    async def one(index: int) -> None:
        appointment_id = f"bench-{run}-{index:06d}"
        start = first + timedelta(minutes=15 * index)
        async with limit:
            handle = await client.start_workflow(
                journey.WORKFLOW,
                request_for(appointment_id, start.astimezone(UTC), rules),
                id=journey.workflow_id(appointment_id),
                task_queue=settings.temporal_task_queue,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(APPOINTMENT_ID, appointment_id),
                        SearchAttributePair(PATIENT_ID, "pat-bench"),
                        SearchAttributePair(DOCTOR_ID, "doc-bench"),
                    ]
                ),
            )
        started.append(handle.id)
        if len(started) % 1000 == 0:
            progress(f"  journeys started: {len(started):,}/{count:,}")

    await asyncio.gather(*(one(index) for index in range(count)))
    return started


async def live_idle(client: Client) -> int:
    return (await client.count_workflows(LIVE_IDLE)).count


async def wait_idle(
    client: Client, expected: int, progress: Callable[[str], None], limit: float
) -> int:
    """Wait until ``expected`` journeys are live and idle (visibility says so); how many."""
    deadline = time.monotonic() + limit
    shown = -1
    while True:
        live = await live_idle(client)
        if live >= expected or time.monotonic() > deadline:
            return live
        if live // 1000 != shown // 1000:
            progress(f"  journeys idle: {live:,}/{expected:,}")
            shown = live
        await asyncio.sleep(1.0)


async def footprint(processes: Processes, seconds: float, live: int) -> Footprint:
    """Memory now, then CPU over ``seconds`` of (supposed) idleness."""
    memory = {name: measure(name, pid, descendants=tree) for name, (pid, tree) in processes.items()}
    before, began = cpu_snapshot(processes), time.monotonic()
    await asyncio.sleep(seconds)
    used = cpu_percent(before, cpu_snapshot(processes), time.monotonic() - began)
    return Footprint(
        rss_mib={name: m.rss_mib for name, m in memory.items()},
        peak_rss_mib={name: m.peak_rss_mib for name, m in memory.items()},
        idle_cpu_percent=used,
        live_journeys=live,
    )


async def measure_journeys(
    client: Client,
    settings: Settings,
    processes: Processes,
    *,
    count: int,
    idle_seconds: float,
    progress: Callable[[str], None],
) -> JourneysReport:
    """Idle footprint, ``count`` journeys started, every one idle, idle footprint again."""
    already = await live_idle(client)
    progress(
        f"live journeys: {already:,} already (the booking part's); idle for {idle_seconds:g} s"
    )
    before = await footprint(processes, idle_seconds, already)

    progress(f"live journeys: starting {count:,}")
    began = time.monotonic()
    ids = await start_journeys(client, settings, count, now=datetime.now(UTC), progress=progress)
    started = time.monotonic() - began
    live = await wait_idle(client, already + count, progress, SETTLE_LIMIT_SECONDS)
    settled = time.monotonic() - began
    progress(f"live journeys: {live:,} idle after {settled:.0f} s; idle for {idle_seconds:g} s")
    after = await footprint(processes, idle_seconds, live)

    history = await client.get_workflow_handle(ids[0]).fetch_history() if ids else None
    kinds = [event.WhichOneof("attributes") or "" for event in history.events] if history else []
    return JourneysReport(
        count=count,
        idle_seconds=idle_seconds,
        start_seconds=round(started, 1),
        settle_seconds=round(settled, 1),
        before=before,
        after=after,
        history_events=len(history.events) if history else None,
        history_kinds=[kind.removesuffix("_event_attributes") for kind in kinds],
    )
