"""The unit of work writes state, event and outbox row together or not at all
(ARCHITECTURE §3, STYLE principle 4), against the real wire-protocol server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import PyMongoError

from domain.errors import ConcurrencyConflict, DomainError, SlotUnavailable
from domain.events import SCHEMA_VERSION, EventContext, EventType
from domain.model import Appointment, Change, replay, request, transition
from domain.status import AppointmentStatus
from persistence.mapping import outbox_row
from tests.integration.persistence.conftest import TOPIC, Database

S = AppointmentStatus
# Milliseconds only: BSON dates keep no more, and the service cuts ``now`` the same way.
T0 = datetime(2030, 1, 1, 8, 0, 0, 123000, tzinfo=UTC)
NINE = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


def new(
    appointment_id: str = "a-1",
    *,
    doctor_id: str = "d-1",
    start: datetime = NINE,
    minutes: int = 30,
) -> Change:
    return request(
        appointment_id=appointment_id,
        event_id=f"{appointment_id}/requested",
        patient_id="p-1",
        doctor_id=doctor_id,
        start=start,
        duration_minutes=minutes,
        timezone="Europe/Berlin",
        reason="check-up",
        hold_id="hold-1",
        now=T0,
        context=EventContext(
            actor="patient:p-1", reason="booking requested", workflow_id="booking-k1", run_id="r1"
        ),
    )


def move(current: Appointment, target: AppointmentStatus, tag: str, **fields: Any) -> Change:
    return transition(
        current,
        target,
        event_id=f"{current.id}/{tag}",
        now=T0 + timedelta(seconds=current.version),
        context=EventContext(actor="staff:s-1", reason=tag, request_id=f"req-{tag}"),
        **fields,
    )


async def plant_outbox_row(database: Database, change: Change) -> None:
    """Pre-insert the outbox row the change will write, so its outbox insert (the LAST
    write of the transaction) hits a duplicate key after state and event were written."""
    row = outbox_row(change.event, change.state, TOPIC)
    await database.raw.outbox.insert_one(row.model_dump(by_alias=True))


async def test_commit_of_a_new_appointment_writes_one_of_each(database: Database) -> None:
    change = new()
    stored = await database.store.commit(change)

    assert stored == change.state
    assert await database.raw.counts() == (1, 1, 1)

    row = await database.raw.appointments.find_one({"_id": "a-1"})
    assert row is not None
    assert (row["status"], row["version"], row["doctor_id"]) == ("PENDING", 1, "d-1")
    assert row["end"] == NINE + timedelta(minutes=30)
    # The cells feed the unique partial index that blocks double booking.
    assert row["cells"] == [NINE + timedelta(minutes=m) for m in range(0, 30, 5)]

    event = await database.raw.events.find_one({"_id": change.event.event_id})
    assert event is not None
    assert (event["appointment_id"], event["seq"], event["type"]) == (
        "a-1",
        1,
        "appointment.requested",
    )
    assert (event["actor"], event["workflow_id"], event["run_id"]) == (
        "patient:p-1",
        "booking-k1",
        "r1",
    )
    assert event["after"]["status"] == "PENDING"

    outbox = await database.raw.outbox.find_one({"_id": change.event.event_id})
    assert outbox is not None
    assert (outbox["topic"], outbox["key"], outbox["published_at"]) == (TOPIC, "a-1", None)
    envelope = outbox["envelope"]
    assert set(envelope) == {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "appointment_id",
        "actor",
        "data",
    }
    assert envelope["event_id"] == change.event.event_id
    assert envelope["type"] == EventType.REQUESTED.value
    assert envelope["schema_version"] == SCHEMA_VERSION
    assert datetime.fromisoformat(envelope["occurred_at"]) == T0
    assert envelope["appointment_id"] == "a-1"
    assert envelope["actor"] == "patient:p-1"
    assert envelope["data"]["status"] == "PENDING"
    assert envelope["data"]["id"] == "a-1"
    # The Kafka value is JSON: nothing in the envelope may need BSON to survive.
    assert json.loads(json.dumps(envelope)) == envelope


async def test_replaying_the_same_change_is_a_no_op(database: Database) -> None:
    requested = new()
    first = await database.store.commit(requested)
    again = await database.store.commit(requested)
    assert again == first
    assert await database.raw.counts() == (1, 1, 1)

    scheduled = move(first, S.SCHEDULED, "scheduled", invoice_id="inv-1")
    after = await database.store.commit(scheduled)
    # The retry carries a stale expected_version now, yet it is recognised by its event
    # id and answered with the stored state instead of a ConcurrencyConflict.
    assert await database.store.commit(scheduled) == after
    assert await database.store.commit(requested) == after
    assert await database.raw.counts() == (1, 2, 2)
    assert after.version == 2


async def test_an_overlapping_active_appointment_is_refused(database: Database) -> None:
    await database.store.commit(new("a-1", start=NINE, minutes=30))
    before = await database.raw.counts()

    overlapping = new("a-2", start=NINE + timedelta(minutes=15), minutes=30)
    with pytest.raises(SlotUnavailable):
        await database.store.commit(overlapping)

    assert await database.raw.counts() == before
    assert await database.store.get("a-2") is None


async def test_adjacent_slots_and_other_doctors_are_not_overlaps(database: Database) -> None:
    await database.store.commit(new("a-1", start=NINE, minutes=30))
    await database.store.commit(new("a-2", start=NINE + timedelta(minutes=30), minutes=30))
    await database.store.commit(new("a-3", doctor_id="d-2", start=NINE, minutes=30))
    assert await database.raw.counts() == (3, 3, 3)


async def test_a_failed_appointment_frees_its_cells(database: Database) -> None:
    first = await database.store.commit(new("a-1", start=NINE, minutes=30))
    await database.store.commit(move(first, S.FAILED, "failed"))

    overlapping = await database.store.commit(new("a-2", start=NINE + timedelta(minutes=15)))
    assert overlapping.status is S.PENDING
    assert await database.raw.counts() == (2, 3, 3)


async def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(
    database: Database,
) -> None:
    pending = await database.store.commit(new())
    scheduled = await database.store.commit(move(pending, S.SCHEDULED, "scheduled"))
    before = await database.raw.counts()

    # Built from the version-1 state that someone else already moved on from.
    with pytest.raises(ConcurrencyConflict):
        await database.store.commit(move(pending, S.FAILED, "failed"))

    assert await database.raw.counts() == before
    assert await database.store.get("a-1") == scheduled


async def test_concurrent_transitions_from_one_version_one_wins(database: Database) -> None:
    pending = await database.store.commit(new())
    contenders = [
        move(pending, S.SCHEDULED, "scheduled", invoice_id="inv-1"),
        move(pending, S.FAILED, "failed"),
    ]

    results = await asyncio.gather(
        *(database.store.commit(change) for change in contenders), return_exceptions=True
    )

    winners = [r for r in results if isinstance(r, Appointment)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert isinstance(losers[0], ConcurrencyConflict), repr(losers[0])

    winner = winners[0]
    assert winner.version == 2
    assert await database.store.get("a-1") == winner
    history = await database.store.history("a-1")
    assert [event.seq for event in history] == [1, 2]
    winning_change = contenders[results.index(winner)]
    assert history[1].event_id == winning_change.event.event_id
    assert await database.raw.counts() == (1, 2, 2)


async def test_history_is_in_order_and_replays_to_the_stored_state(database: Database) -> None:
    changes = [new()]
    state = await database.store.commit(changes[0])
    for target, tag, fields in [
        (S.SCHEDULED, "scheduled", {"invoice_id": "inv-1"}),
        (S.CONFIRMED, "confirmed", {}),
        (S.CHECKED_IN, "checked-in", {"notes": "arrived early"}),
        (S.COMPLETED, "completed", {}),
    ]:
        changes.append(move(state, target, tag, **fields))
        state = await database.store.commit(changes[-1])

    history = await database.store.history("a-1")
    assert [event.seq for event in history] == [1, 2, 3, 4, 5]
    assert [event.event_id for event in history] == [c.event.event_id for c in changes]
    assert [event.type for event in history] == [c.event.type for c in changes]
    assert [event.context for event in history] == [c.event.context for c in changes]

    stored = await database.store.get("a-1")
    assert stored is not None
    assert stored.status is S.COMPLETED
    rebuilt = replay(history)
    # Field by field, so a mismatch names the field rather than the whole dataclass.
    for field in dataclasses.fields(Appointment):
        assert getattr(rebuilt, field.name) == getattr(stored, field.name), field.name
    assert rebuilt == stored == changes[-1].state


async def test_a_failure_after_the_state_write_leaves_nothing_of_a_new_appointment(
    database: Database,
) -> None:
    change = new()
    await plant_outbox_row(database, change)
    assert await database.raw.counts() == (0, 0, 1)

    # The point here is atomicity, not which error type the store chooses.
    with pytest.raises((DomainError, PyMongoError)):
        await database.store.commit(change)

    assert await database.raw.counts() == (0, 0, 1)
    assert await database.raw.appointments.find_one({"_id": "a-1"}) is None
    assert await database.raw.events.find_one({"_id": change.event.event_id}) is None


async def test_a_failure_after_the_state_write_leaves_an_update_undone(
    database: Database,
) -> None:
    pending = await database.store.commit(new())
    change = move(pending, S.SCHEDULED, "scheduled", invoice_id="inv-1")
    await plant_outbox_row(database, change)
    before = await database.raw.counts()

    with pytest.raises((DomainError, PyMongoError)):
        await database.store.commit(change)

    assert await database.raw.counts() == before
    # The replace_one of the state ran inside the transaction; it must be rolled back.
    assert await database.store.get("a-1") == pending
    assert [event.seq for event in await database.store.history("a-1")] == [1]


async def test_a_key_once_used_for_another_appointment_is_refused(database: Database) -> None:
    """An event id already stored for another appointment (a key reused after Temporal
    forgot its first run) is refused, never answered as if this change were applied."""
    await database.store.commit(new("a-1"))
    second = await database.store.commit(new("a-2", start=NINE + timedelta(hours=1)))
    [first_event] = await database.store.history("a-1")
    change = move(second, S.SCHEDULED, "scheduled")
    reused = dataclasses.replace(
        change, event=dataclasses.replace(change.event, event_id=first_event.event_id)
    )
    before = await database.raw.counts()

    with pytest.raises(ConcurrencyConflict, match="used for another change"):
        await database.store.commit(reused)

    assert await database.raw.counts() == before
    assert await database.store.get("a-2") == second
