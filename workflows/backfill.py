"""``appointment-service journey backfill``: the journeys of active appointments that have
none (booked before journeys existed, or while they were off).

Which: every SCHEDULED, CONFIRMED or CHECKED_IN appointment, whatever its start. PENDING
ones are left to their booking saga, which starts the journey itself once they are
SCHEDULED. An appointment whose start (and no-show check) is long past is started too: an
appointment still SCHEDULED days after its start holds its slot and its status forever
unless something closes it, and closing it is the journey's job. Its journey skips the
reminders whose moment has passed and runs the no-show check at once; the fee is the one
captured at booking, so an appointment booked before the fee existed gets none. A
CHECKED_IN one gets a journey that waits for its end.

Each journey is started the way the booking saga starts one (id ``journey-<appointment
id>``, rules from the settings now, the search attributes of the Web UI), with the id reuse
policy REJECT_DUPLICATE: a journey that exists (running or closed) answers "already
started", counted as "had one". A second run therefore starts none, and a booking saga
racing the backfill cannot start a second journey either.

Appointments are read in pages of the ``status_start`` index, in (start, id) order by a
keyset cursor, so the walk neither skips nor repeats one while others change."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from application.ports import AppointmentFilter, AppointmentRepository
from config import Settings, load_settings
from domain.model import Appointment
from domain.status import AppointmentStatus
from telemetry.progress import Progress
from workflows.contracts import journey
from workflows.contracts.journey import Facts, JourneyRequest, Rules
from workflows.journey_starts import start_journey_run

S = AppointmentStatus
# PENDING is not here: its booking saga starts the journey when it becomes SCHEDULED.
BACKFILLED: frozenset[AppointmentStatus] = frozenset({S.SCHEDULED, S.CONFIRMED, S.CHECKED_IN})
PAGE = 200  # appointments read at a time
CONCURRENCY = 16  # journeys started (or looked up) side by side


class Journeys(Protocol):
    """The journeys as the backfill sees them (``TemporalJourneys``; a fake in tests)."""

    async def exists(self, appointment_id: str) -> bool:
        """Whether the appointment has a journey (running or closed): a dry run's look."""
        ...

    async def start(self, appointment: Appointment) -> bool:
        """Start its journey; False if it had one already."""
        ...


@dataclass
class Tally:
    started: int = 0
    had_one: int = 0

    @property
    def seen(self) -> int:
        return self.started + self.had_one

    def describe(self, *, dry_run: bool) -> str:
        if dry_run:
            return f"dry run: would start {self.started} journeys, {self.had_one} have one"
        return f"started {self.started} journeys, {self.had_one} had one"


async def backfill(
    appointments: AppointmentRepository,
    journeys: Journeys,
    *,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
    page: int = PAGE,
    concurrency: int = CONCURRENCY,
) -> Tally:
    """Start the journey of every active appointment that has none (``dry_run``: only
    count them); ``on_progress`` hears how many were handled so far."""
    tally = Tally()
    limit = asyncio.Semaphore(concurrency)

    async def handle(appointment: Appointment) -> bool:
        """True: started (or would be)."""
        async with limit:
            if dry_run:
                return not await journeys.exists(appointment.id)
            return await journeys.start(appointment)

    where = AppointmentFilter(statuses=BACKFILLED)
    after: tuple[datetime, str] | None = None
    while True:
        batch = await appointments.find(where, after=after, limit=page)
        for started in await asyncio.gather(*(handle(a) for a in batch)):
            if started:
                tally.started += 1
            else:
                tally.had_one += 1
        if on_progress is not None:
            on_progress(tally.seen)
        if len(batch) < page:
            return tally
        after = (batch[-1].start, batch[-1].id)


class TemporalJourneys:
    """Journeys on the Temporal server, started as the booking saga starts them."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self._client = client
        self._task_queue = settings.temporal_task_queue
        self._rules = Rules.of(settings.journey_rules)

    async def exists(self, appointment_id: str) -> bool:
        handle = self._client.get_workflow_handle(journey.workflow_id(appointment_id))
        try:
            await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def start(self, appointment: Appointment) -> bool:
        request = request_of(appointment, self._rules)
        return await start_journey_run(self._client, self._task_queue, request)


def request_of(appointment: Appointment, rules: Rules) -> JourneyRequest:
    return JourneyRequest(
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        doctor_id=appointment.doctor_id,
        facts=Facts.of(appointment),
        rules=rules,
    )


def _status_values(statuses: Iterable[AppointmentStatus]) -> list[str]:
    return sorted(s.value for s in statuses)


async def run_backfill(
    settings: Settings, *, dry_run: bool = False, progress: bool = True
) -> Tally:
    """The backfill against the settings' MongoDB and Temporal; with ``progress``, a
    progress line on stderr when it is a terminal (count, rate, ETA)."""
    # The worker's side (Beanie, pymongo): imported here, so that importing this module
    # for its protocol and tally pulls in no database driver.
    from persistence import AppointmentStore, connect
    from persistence import documents as db
    from workflows.client import connect_temporal

    mongo = await connect(settings)
    try:
        client = await connect_temporal(settings)
        store = AppointmentStore(mongo, settings.kafka_topic)
        journeys = TemporalJourneys(client, settings)
        if not progress:
            return await backfill(store, journeys, dry_run=dry_run)
        total = await db.Appointment.find({"status": {"$in": _status_values(BACKFILLED)}}).count()
        with Progress("backfill", total, unit="appointments") as line:
            return await backfill(store, journeys, dry_run=dry_run, on_progress=line.update)
    finally:
        await mongo.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="appointment-service journey",
        description="Operate the appointments' journeys (workflows/journey.py).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fill = commands.add_parser(
        "backfill",
        help="start the journeys of active appointments that have none",
        description="Start the journey of every SCHEDULED, CONFIRMED or CHECKED_IN "
        "appointment that has none, with the journey settings of now. Idempotent: an "
        "appointment with a journey (running or closed) is left alone. A progress line on "
        "a terminal; prints how many were started and how many had one.",
    )
    fill.add_argument(
        "--dry-run", action="store_true", help="only count: start nothing, print the counts"
    )
    args = parser.parse_args(argv)
    from config.logging import configure_logging

    settings = load_settings()
    configure_logging(settings, "journey")
    tally = asyncio.run(run_backfill(settings, dry_run=args.dry_run))
    print(tally.describe(dry_run=args.dry_run))
    sys.exit(0)
