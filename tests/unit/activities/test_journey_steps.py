"""The journey's activities (activities/journey.py) in an ``ActivityEnvironment`` on the
in-memory repository: each acts only if its action still applies to the stored
appointment, by a conditional transition on the version it read (read again when another
change committed first), and answers what it found; a retry of a committed step writes
nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.testing import ActivityEnvironment

from activities.journey import JourneyActivities
from activities.models import NoShowCheck, NoShowRecord, ReminderOrder
from config import load_settings
from domain.events import EventType
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import FakeCalendars, FakeRepository
from tests.unit.activities.test_reapply import RacedRepository
from workflows.contracts.journey import ACTOR

SETTINGS = load_settings(environment="test")


def links(appointment: Appointment) -> dict[str, str]:
    return {
        "confirm": f"https://clinic.example/a/c-{appointment.id}",
        "cancel": f"https://clinic.example/a/x-{appointment.id}",
    }


def steps(store: FakeRepository, calendars: FakeCalendars | None = None) -> JourneyActivities:
    return JourneyActivities(store, calendars or FakeCalendars(), SETTINGS, links)


def reminder(appointment: Appointment, offset: int = 1440, key: str = "k1") -> ReminderOrder:
    return ReminderOrder(
        appointment_id=appointment.id,
        start=appointment.start,
        offset_minutes=offset,
        idempotency_key=f"journey-{appointment.id}/{key}",
    )


async def test_a_reminder_is_an_event_with_its_details_written_once() -> None:
    store = FakeRepository()
    booked = await store.plant()
    env = ActivityEnvironment()

    first = await env.run(steps(store).send_reminder, reminder(booked))
    again = await env.run(steps(store).send_reminder, reminder(booked))  # a retry

    assert (first.sent, again.sent) == (True, True)
    assert first.facts.reminders_sent == (1440,)
    events = [e for e in await store.history(booked.id) if e.type is EventType.REMINDER_DUE]
    assert len(events) == 1, "a retry writes nothing twice"
    [event] = events
    assert event.context.actor == ACTOR
    assert event.details["offset_minutes"] == 1440
    assert event.details["doctor_name"] == "Dr. Noah Fischer (on call)"
    assert event.details["links"] == links(booked)
    local = datetime.fromisoformat(event.details["start_local"])
    assert local == booked.start
    assert local.utcoffset() != timedelta(0)
    stored = await store.get(booked.id)
    assert stored is not None
    assert stored.status is AppointmentStatus.SCHEDULED


async def test_a_reminder_for_a_start_that_moved_is_not_sent_and_says_where_it_went() -> None:
    store = FakeRepository()
    booked = await store.plant()
    stale = reminder(booked).model_copy(update={"start": booked.start - timedelta(days=1)})

    result = await ActivityEnvironment().run(steps(store).send_reminder, stale)

    assert result.sent is False
    assert (result.facts.start, result.facts.version) == (booked.start, booked.version)
    assert EventType.REMINDER_DUE not in [e.type for e in await store.history(booked.id)]


async def test_a_reminder_raced_by_an_edit_is_decided_again_on_the_edited_state() -> None:
    store = RacedRepository()
    booked = await store.plant()
    store.races = 1

    result = await ActivityEnvironment().run(steps(store).send_reminder, reminder(booked))

    assert result.sent is True
    stored = await store.get(booked.id)
    assert stored is not None
    assert (stored.notes, stored.reminders_sent) == ("note 1", (1440,))


async def test_while_the_doctor_service_is_down_the_reminder_names_the_doctors_id() -> None:
    store = FakeRepository()
    booked = await store.plant()

    sent = await ActivityEnvironment().run(
        steps(store, FakeCalendars(down=True)).send_reminder, reminder(booked)
    )

    assert sent.sent is True
    [event] = [e for e in await store.history(booked.id) if e.type is EventType.REMINDER_DUE]
    assert event.details["doctor_name"] == booked.doctor_id


async def test_the_no_show_is_recorded_once_the_start_has_passed_with_its_fee() -> None:
    store = FakeRepository()
    started = await store.plant(start=datetime.now(UTC) - timedelta(minutes=30))
    env = ActivityEnvironment()
    check = NoShowCheck(appointment_id=started.id, start=started.start)
    record = NoShowRecord(
        appointment_id=started.id,
        start=started.start,
        fee_invoice_id="inv-fee-1",
        idempotency_key=f"journey-{started.id}/no-show/1",
    )

    plan = await env.run(steps(store).plan_no_show, check)
    recorded = await env.run(steps(store).record_no_show, record)
    again = await env.run(steps(store).record_no_show, record)  # a retry

    assert plan.applies is True
    assert (recorded.recorded, again.recorded) == (True, True)
    assert recorded.facts.status is AppointmentStatus.NO_SHOW
    stored = await store.get(started.id)
    assert stored is not None
    assert (stored.no_show_invoice_id, stored.no_show_at is not None) == ("inv-fee-1", True)
    events = [e for e in await store.history(started.id) if e.type is EventType.NO_SHOW]
    assert [e.context.actor for e in events] == [ACTOR]


async def test_no_no_show_before_the_start_nor_for_a_patient_checked_in() -> None:
    store = FakeRepository()
    coming = await store.plant()
    here = await store.plant(
        start=datetime.now(UTC) - timedelta(minutes=30), status=AppointmentStatus.CHECKED_IN
    )
    env = ActivityEnvironment()

    early = await env.run(
        steps(store).plan_no_show, NoShowCheck(appointment_id=coming.id, start=coming.start)
    )
    late = await env.run(
        steps(store).record_no_show,
        NoShowRecord(
            appointment_id=here.id, start=here.start, idempotency_key=f"journey-{here.id}/ns"
        ),
    )

    assert early.applies is False
    assert (late.recorded, late.facts.status) == (False, AppointmentStatus.CHECKED_IN)
    assert EventType.NO_SHOW not in [e.type for e in await store.history(here.id)]
