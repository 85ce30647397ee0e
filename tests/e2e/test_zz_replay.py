"""The event store is the truth (ARCHITECTURE §3): for EVERY appointment in MongoDB, what
the whole e2e session made through the API and its sagas, and what the tests planted,
replaying its events rebuilds the stored state field by field, its seqs run 1..n without
a gap, and each event has its outbox row.

Named to run last in the e2e session, so it checks what all the other tests left."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from pymongo.database import Database

from domain.model import Appointment, replay
from localstack.service import LocalService
from persistence import AppointmentStore, connect

pytestmark = pytest.mark.e2e


def _mismatches(stored: Appointment, events: list[Any]) -> list[str]:
    seqs = [event.seq for event in events]
    if seqs != list(range(1, len(events) + 1)):
        return [f"seqs {seqs}"]
    rebuilt = replay(events)
    return [
        f"{field.name}: stored {getattr(stored, field.name)!r}, "
        f"replayed {getattr(rebuilt, field.name)!r}"
        for field in dataclasses.fields(Appointment)
        if getattr(rebuilt, field.name) != getattr(stored, field.name)
    ]


async def _replay_all(service: LocalService, ids: list[str]) -> dict[str, list[str]]:
    client = await connect(service.settings)
    try:
        store = AppointmentStore(client, service.settings.kafka_topic)
        found: dict[str, list[str]] = {}
        for appointment_id in ids:
            # A saga still compensating may commit between the two reads: read again.
            for _ in range(5):
                stored = await store.get(appointment_id)
                assert stored is not None
                events = await store.history(appointment_id)
                if events and events[-1].seq == stored.version:
                    break
                await asyncio.sleep(0.5)
            assert stored is not None
            problems = _mismatches(stored, events)
            if problems:
                found[appointment_id] = problems
        return found
    finally:
        await client.close()


def test_every_appointment_replays_from_its_events_to_its_stored_state(
    service: LocalService, mongo: Database[dict[str, Any]]
) -> None:
    ids = [row["_id"] for row in mongo["appointments"].find({}, {"_id": 1})]
    assert len(ids) > 10, "the e2e session should have made many appointments"

    assert asyncio.run(_replay_all(service, ids)) == {}


def test_every_event_belongs_to_an_appointment_and_has_its_outbox_row(
    mongo: Database[dict[str, Any]],
) -> None:
    appointments = {row["_id"]: row for row in mongo["appointments"].find({})}
    outbox = {row["_id"]: row for row in mongo["outbox_events"].find({})}
    events = list(mongo["appointment_events"].find({}))
    assert {event["appointment_id"] for event in events} == set(appointments)
    for event in events:
        row = outbox.get(event["_id"])
        assert row is not None, f"event {event['_id']} has no outbox row"
        assert row["key"] == event["appointment_id"]
        assert row["envelope"]["type"] == event["type"]
    assert len(outbox) == len(events)


def test_every_stored_appointment_has_its_end_and_cells_right(
    mongo: Database[dict[str, Any]],
) -> None:
    """The fields the document keeps beside the domain's: ``end``, and the cells the
    no-overlap index is built on."""
    for row in mongo["appointments"].find({}):
        minutes = row["duration_minutes"]
        assert row["end"] == row["start"] + timedelta(minutes=minutes), row["_id"]
        cells = [row["start"] + timedelta(minutes=m) for m in range(0, minutes, 5)]
        assert row["cells"] == cells, row["_id"]
