"""The event store is the truth (ARCHITECTURE §3): for EVERY appointment in MongoDB,
replaying its events rebuilds the stored state field by field, its seqs run 1..n without
a gap, and each event has its outbox row.

Every appointment: what this module makes first through the API and its sagas (every
kind of change, a compensated booking among them), and whatever the other tests of the
session made before it, in whatever order they ran."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from domain.model import Appointment, replay
from localstack.service import LocalService
from persistence import AppointmentStore, connect
from tests.e2e.conftest import Slots
from tests.e2e.support import BASE, book, booked, booking, changed
from tests.waiting import eventually_async

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


async def _read_consistently(
    store: AppointmentStore, appointment_id: str
) -> tuple[Appointment, list[Any]]:
    """The appointment and its events, read at one version: a saga still compensating may
    commit between the two reads, then both are read again."""

    async def both() -> tuple[Appointment, list[Any]] | None:
        stored = await store.get(appointment_id)
        assert stored is not None
        events = await store.history(appointment_id)
        return (stored, events) if events and events[-1].seq == stored.version else None

    return await eventually_async(both, 5.0, f"{appointment_id} read at one version")


async def _replay_all(service: LocalService, ids: list[str]) -> dict[str, list[str]]:
    client = await connect(service.settings)
    try:
        store = AppointmentStore(client, service.settings.kafka_topic)
        found: dict[str, list[str]] = {}
        for appointment_id in ids:
            stored, events = await _read_consistently(store, appointment_id)
            problems = _mismatches(stored, events)
            if problems:
                found[appointment_id] = problems
        return found
    finally:
        await client.close()


@pytest.fixture(scope="module")
def lived(
    api: httpx.Client,
    as_role: Callable[[str, str], httpx.Client],
    peers: dict[str, httpx.Client],
    slots: Slots,
) -> list[str]:
    """Appointments that lived every kind of change, made here so this module checks them
    whether it runs first, last or alone: confirmed and edited, checked in and completed,
    rescheduled then cancelled, a booking Billing refused (compensated: FAILED), and one
    entered in error."""
    made = [booked(api, slots.next(), reason="event store")["id"] for _ in range(4)]
    first, second, third, fourth = made
    changed(api, first, "confirm", reason="called")
    assert api.patch(f"{BASE}/{first}", json={"notes": "bring the x-ray"}).is_success
    changed(api, second, "check-in")
    changed(api, second, "complete")
    changed(api, third, "reschedule", start=slots.next())
    changed(api, third, "cancel", reason="feeling better")
    changed(api, fourth, "cancel")
    admin = as_role("admin", "admin-event-store")
    assert admin.delete(f"{BASE}/{fourth}").status_code == 200  # entered in error
    # Billing refusing the invoice: compensated at once (an outage would wait out the
    # retries first; test_booking's business), its events requested, booking_failed.
    peers["billing"].put("/_sim/faults", json={"mode": "refuse", "times": 1}).raise_for_status()
    assert book(api, booking(slots.next())).status_code == 402
    return made


def test_every_appointment_replays_from_its_events_to_its_stored_state(
    service: LocalService, mongo: Database[dict[str, Any]], lived: list[str]
) -> None:
    ids = [row["_id"] for row in mongo["appointments"].find({}, {"_id": 1})]
    assert set(lived) <= set(ids)
    assert mongo["appointments"].count_documents({"status": "FAILED"}) >= 2

    assert asyncio.run(_replay_all(service, ids)) == {}


def test_every_event_belongs_to_an_appointment_and_has_its_outbox_row(
    mongo: Database[dict[str, Any]], lived: list[str]
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
    mongo: Database[dict[str, Any]], lived: list[str]
) -> None:
    """The fields the document keeps beside the domain's: ``end``, and the cells the
    no-overlap index is built on."""
    for row in mongo["appointments"].find({}):
        minutes = row["duration_minutes"]
        assert row["end"] == row["start"] + timedelta(minutes=minutes), row["_id"]
        cells = [row["start"] + timedelta(minutes=m) for m in range(0, minutes, 5)]
        assert row["cells"] == cells, row["_id"]
