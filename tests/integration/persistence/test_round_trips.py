"""What one booking asks MongoDB, counted with PyMongo's command monitoring against the
real wire-protocol server: the saga's two changes of the appointment (persist PENDING,
mark SCHEDULED) are the write path of every booking, and the server is the busiest
process under that load, so a command added to it shows here before it shows in the
bench. Retries are still recognised without the reads that used to precede each change."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from beanie import init_beanie
from pymongo import AsyncMongoClient, monitoring
from temporalio.testing import ActivityEnvironment

from activities.appointments import AppointmentActivities
from activities.models import NewAppointment, StatusChange
from config import load_settings
from domain import model
from domain.events import EventContext
from domain.status import AppointmentStatus
from persistence.documents import DOCUMENT_MODELS
from persistence.store import AppointmentStore
from tests.integration.persistence.conftest import TOPIC

CALLER = EventContext(actor="patient:p-1", request_id="req-1")
STAFF = EventContext(actor="staff:s-1")
START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)


@dataclass
class Commands(monitoring.CommandListener):
    """The commands sent, as ``name:collection`` (``commitTransaction:`` has none)."""

    sent: list[str] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.sent.append(f"{event.command_name}:{target if isinstance(target, str) else ''}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def during(self) -> Commands:
        self.sent.clear()
        return self


@dataclass(frozen=True)
class Bed:
    activities: AppointmentActivities
    store: AppointmentStore
    commands: Commands

    async def run_persist(self, new: NewAppointment) -> list[str]:
        self.commands.during()
        await ActivityEnvironment().run(self.activities.persist_pending, new)
        return list(self.commands.sent)

    async def run_mark(self, change: StatusChange) -> list[str]:
        self.commands.during()
        await ActivityEnvironment().run(self.activities.mark_scheduled, change)
        return list(self.commands.sent)


@pytest.fixture
async def bed(mongo_uri: str) -> AsyncIterator[Bed]:
    name = f"round_trips_{uuid.uuid4().hex[:12]}"
    settings = load_settings(mongo_uri=mongo_uri, mongo_database=name)
    commands = Commands()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[commands]
    )
    try:
        await init_beanie(database=client[name], document_models=DOCUMENT_MODELS)
        store = AppointmentStore(client, TOPIC)
        yield Bed(AppointmentActivities(store, settings), store, commands)
        await client.drop_database(name)
    finally:
        await client.close()


def booking(key: str, start: datetime = START) -> tuple[NewAppointment, StatusChange]:
    new = NewAppointment(
        appointment_id=f"a-{key}",
        patient_id="p-1",
        doctor_id="d-1",
        start=start,
        duration_minutes=30,
        hold_id=f"hold-{key}",
        idempotency_key=f"{key}/pending",
        caller=CALLER,
    )
    scheduled = StatusChange(
        appointment_id=new.appointment_id,
        idempotency_key=f"{key}/scheduled",
        invoice_id=f"inv-{key}",
        caller=CALLER,
    )
    return new, scheduled


PERSIST = [
    "insert:appointments",
    "insert:appointment_events",
    "insert:outbox_events",
    "commitTransaction:",
]
MARK = [
    "find:appointments",  # the current state, to change
    "update:appointments",  # replaced at its version
    "insert:appointment_events",
    "insert:outbox_events",
    "commitTransaction:",
]


async def test_a_booking_asks_nine_commands(bed: Bed) -> None:
    """No read before a write to recognise a retry, and none after it to answer the
    state: the transaction's own writes tell a retry, and the state is what was written."""
    new, scheduled = booking("k1")

    assert await bed.run_persist(new) == PERSIST
    assert await bed.run_mark(scheduled) == MARK

    stored = await bed.store.get(new.appointment_id)
    assert stored is not None
    assert (stored.status, stored.version, stored.invoice_id) == (
        AppointmentStatus.SCHEDULED,
        2,
        "inv-k1",
    )


async def test_retries_write_nothing_and_answer_the_stored_state(bed: Bed) -> None:
    new, scheduled = booking("k2")
    await bed.run_persist(new)
    await bed.run_mark(scheduled)
    history = await bed.store.history(new.appointment_id)

    # persist_pending again: its insert hits the stored id, the event is found, applied.
    again = await bed.run_persist(new)
    assert again[-1] == "find:appointments"  # answered with the state as it is
    # mark_scheduled again: already SCHEDULED, no transaction at all.
    assert await bed.run_mark(scheduled) == ["find:appointments"]

    assert await bed.store.history(new.appointment_id) == history


async def test_a_retry_after_the_booking_moved_on_still_knows_its_event(bed: Bed) -> None:
    new, scheduled = booking("k3")
    await bed.run_persist(new)
    await bed.run_mark(scheduled)
    current = await bed.store.get(new.appointment_id)
    assert current is not None
    confirmed = await bed.store.commit(
        model.transition(
            current,
            AppointmentStatus.CONFIRMED,
            event_id="staff/confirmed",
            now=datetime.now(UTC),
            context=STAFF,
        )
    )

    # SCHEDULED is not reachable from CONFIRMED: only the event tells it was applied.
    assert await bed.run_mark(scheduled) == ["find:appointments", "find:appointment_events"]
    assert await bed.store.get(new.appointment_id) == confirmed


async def test_a_committed_state_is_answered_as_a_read_would(bed: Bed) -> None:
    """The state a commit answers is not read back: it must still be what a read of it
    answers, down to the milliseconds BSON dates keep."""
    new, _ = booking("k4", START + timedelta(microseconds=123456))
    change = model.request(
        appointment_id=new.appointment_id,
        event_id="k4/pending",
        patient_id=new.patient_id,
        doctor_id=new.doctor_id,
        start=new.start,
        duration_minutes=30,
        timezone="Europe/Berlin",
        reason=None,
        hold_id=new.hold_id,
        now=datetime(2031, 1, 1, 8, 0, 0, 654321, tzinfo=UTC),
        context=CALLER,
    )
    assert change.state.start.microsecond == 123456

    answered = await bed.store.commit(change)
    assert answered == await bed.store.get(new.appointment_id)
    assert answered.start.microsecond == 123000
    assert answered != change.state

    edited = model.edit(
        answered,
        event_id="k4/notes",
        now=datetime(2031, 1, 1, 9, 0, 0, 999999, tzinfo=UTC),
        context=STAFF,
        notes="bring the referral",
    )
    answered = await bed.store.commit(edited)
    assert answered == await bed.store.get(new.appointment_id)
    assert (answered.notes, answered.updated_at.microsecond) == ("bring the referral", 999000)
