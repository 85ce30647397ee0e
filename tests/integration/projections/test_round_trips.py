"""What projecting a batch asks MongoDB, counted with PyMongo's command monitoring
against the real wire-protocol server. The server is the busiest process under the
booking load, so a command added per batch shows here before it shows in the bench.

A batch folds the events the change stream brought without reading them again when they
continue each row without a gap, and reads the others' events in one query; the
checkpoint is saved at most every ``checkpoint_seconds``, and on a graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from domain.status import AppointmentStatus
from projections.fold import StoredEvent
from projections.names import Directory
from projections.projection import Projection
from projections.projector import Projector
from projections.read_view import CHECKPOINTS
from projections.retry import Backoff
from projections.status import projector_status
from projections.view_store import ViewStore
from tests.integration.projections.conftest import QUICK, Bed

S = AppointmentStatus
NINE = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


@dataclass
class Commands(monitoring.CommandListener):
    """The commands sent, as ``name:collection``."""

    sent: list[str] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.sent.append(f"{event.command_name}:{target if isinstance(target, str) else ''}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def taken(self) -> list[str]:
        """The commands sent since the last call."""
        sent, self.sent = self.sent, []
        return sent


@dataclass(frozen=True)
class Counted:
    store: ViewStore
    projection: Projection
    commands: Commands


@pytest.fixture
async def counted(bed: Bed) -> AsyncIterator[Counted]:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        bed.settings.mongo_uri, tz_aware=True, event_listeners=[commands]
    )
    try:
        store = ViewStore(client[bed.database.name])
        directory = Directory(bed.patients, bed.doctors, asyncio.Event(), backoff=Backoff(0.02))
        yield Counted(store, Projection(store, directory, bed.settings.clinic_zone), commands)
    finally:
        await client.close()


async def stored_events(bed: Bed, ids: Collection[str]) -> dict[str, list[StoredEvent]]:
    """The events as the change stream brings them: copies of the stored ones."""
    found: dict[str, list[StoredEvent]] = {}
    async for raw in bed.database["appointment_events"].find({"appointment_id": {"$in": [*ids]}}):
        found.setdefault(raw["appointment_id"], []).append(StoredEvent.from_raw(raw))
    return found


NEW_ROWS = ["find:appointment_read_view", "update:doctor_days", "insert:appointment_read_view"]
NEWER_ROWS = ["find:appointment_read_view", "update:doctor_days", "update:appointment_read_view"]


async def test_a_batch_of_streamed_events_asks_three_commands(bed: Bed, counted: Counted) -> None:
    """The rows, the days, the rows written: the events are the stream's, not read again,
    however many appointments the batch holds."""
    booked = [await bed.book(NINE + timedelta(minutes=15 * n), then=()) for n in range(10)]
    ids = [a.id for a in booked]

    counted.commands.taken()
    tally = await counted.projection.project(ids, await stored_events(bed, ids))
    assert (tally.rows, counted.commands.taken()) == (10, NEW_ROWS)

    moved = [await bed.move(a, S.SCHEDULED, S.CONFIRMED) for a in booked]
    streamed = await stored_events(bed, ids)
    counted.commands.taken()
    tally = await counted.projection.project(ids, streamed)
    assert (tally.rows, tally.events, counted.commands.taken()) == (10, 20, NEWER_ROWS)

    rows = await bed.rows()
    assert {i: (rows[i]["version"], rows[i]["status"]) for i in ids} == {
        a.id: (3, "CONFIRMED") for a in moved
    }
    # The same events again (a duplicate in the stream, a replay): nothing to write.
    tally = await counted.projection.project(ids, streamed)
    assert (tally.rows, counted.commands.taken()) == (0, ["find:appointment_read_view"])


async def test_events_not_at_hand_are_read_in_one_query(bed: Bed, counted: Counted) -> None:
    """Nothing seen, or seen with a gap after the row (a later event of a batch the
    projector never finished): the store tells, in one query for the whole batch."""
    booked = [await bed.book(NINE + timedelta(minutes=15 * n)) for n in range(6)]
    ids = [a.id for a in booked]
    streamed = await stored_events(bed, ids)
    gap = {i: [e for e in events if e.seq == 2] for i, events in streamed.items()}

    counted.commands.taken()
    await counted.projection.project(ids[:3])  # nothing at hand
    await counted.projection.project(ids[3:], gap)  # only the second event
    assert counted.commands.taken() == [*NEW_ROWS[:1], "find:appointment_events", *NEW_ROWS[1:]] * 2

    rows = await bed.rows()
    assert {i: (rows[i]["version"], rows[i]["status"]) for i in ids} == {
        i: (2, "SCHEDULED") for i in ids
    }
    assert all(rows[i]["patient_name"] == "Anna Schmidt" for i in ids)


async def test_the_checkpoint_waits_for_its_interval_and_a_graceful_stop(
    bed: Bed, counted: Counted
) -> None:
    """Followed batch by batch, the checkpoint is not saved per batch but once its
    interval has passed; a graceful stop saves it, and nothing is then behind."""
    stop = asyncio.Event()
    options = replace(QUICK, checkpoint_seconds=3600, idle_checkpoint_seconds=3600)
    projector = Projector(counted.store, counted.projection, stop, options)
    running = asyncio.create_task(projector.run())
    for n in range(3):  # three batches at least: each waits to be in the view
        await bed.book(NINE + timedelta(minutes=15 * n))
        await bed.caught_up()
    save = "update:projection_checkpoints"
    assert counted.commands.taken().count(save) == 1  # the first start's, after its catch-up

    stop.set()
    await asyncio.wait_for(running, 10)
    assert counted.commands.taken().count(save) == 1
    assert await bed.database[CHECKPOINTS].count_documents({}) == 1
    assert (await projector_status(bed.database)).lag_seconds == 0.0
