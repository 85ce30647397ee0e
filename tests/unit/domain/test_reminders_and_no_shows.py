"""The journey's changes of the aggregate: a reminder (status unchanged, once per offset
and start), the no-show's record, and its reversal by staff within 24 h; every one of
them an event that replay folds like any other."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.errors import (
    AppointmentStarted,
    IllegalTransition,
    InvalidAppointment,
    NoShowReversalClosed,
)
from domain.events import AppointmentEvent, EventContext, EventType
from domain.model import (
    Appointment,
    Change,
    remind,
    replay,
    reschedule,
    reverse_no_show,
    transition,
)
from domain.status import AppointmentStatus
from tests.unit.domain.test_model import START, T0, new_appointment, step
from tests.unit.messaging.lifecycles import every_event_type

S = AppointmentStatus
JOURNEY = EventContext(actor="system:journey", workflow_id="journey-a-1")
STAFF = EventContext(actor="staff:s-1", reason="the patient did come")
DETAILS: dict[str, Any] = {
    "offset_minutes": 1440,
    "start_local": "2030-01-08T09:00:00+01:00",
    "timezone": "Europe/Berlin",
    "doctor_name": "Dr. Noah Fischer",
    "links": {"confirm": "http://x/a/c", "cancel": "http://x/a/x"},
}
NO_SHOW_AT = START + timedelta(minutes=15)


def scheduled() -> list[Change]:
    changes = [new_appointment(no_show_fee_cents=2500)]
    changes.append(step(changes[-1].state, S.SCHEDULED, 2, invoice_id="inv-1"))
    return changes


def reminded(appointment: Appointment, offset: int = 1440, now: datetime | None = None) -> Change:
    return remind(
        appointment,
        offset_minutes=offset,
        event_id=f"ev-r-{appointment.version}-{offset}",
        now=now or START - timedelta(minutes=offset),
        context=JOURNEY,
        details=DETAILS | {"offset_minutes": offset},
    )


def no_show(appointment: Appointment, now: datetime = NO_SHOW_AT, **fields: Any) -> Change:
    return transition(
        appointment,
        S.NO_SHOW,
        event_id=f"ev-ns-{appointment.version}",
        now=now,
        context=JOURNEY,
        **fields,
    )


def reversed_to(target: AppointmentStatus, appointment: Appointment, now: datetime) -> Change:
    return reverse_no_show(
        appointment, target, event_id=f"ev-rev-{appointment.version}", now=now, context=STAFF
    )


def in_status(status: AppointmentStatus) -> Appointment:
    """An appointment brought to ``status`` by the real changes (the start has passed for
    the statuses after it)."""
    paths: dict[AppointmentStatus, list[AppointmentStatus]] = {
        S.PENDING: [],
        S.SCHEDULED: [S.SCHEDULED],
        S.CONFIRMED: [S.SCHEDULED, S.CONFIRMED],
        S.CHECKED_IN: [S.SCHEDULED, S.CHECKED_IN],
        S.COMPLETED: [S.SCHEDULED, S.CHECKED_IN, S.COMPLETED],
        S.CANCELLED: [S.SCHEDULED, S.CANCELLED],
        S.NO_SHOW: [S.SCHEDULED],
        S.FAILED: [S.FAILED],
    }
    state = new_appointment().state
    for n, target in enumerate(paths[status], start=2):
        state = step(state, target, n).state
    return no_show(state).state if status is S.NO_SHOW else state


# --- reminders --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SCHEDULED, S.CONFIRMED])
def test_a_reminder_changes_only_the_reminders_sent(status: AppointmentStatus) -> None:
    before = in_status(status)
    change = reminded(before)
    state, event = change.state, change.event
    assert state.status is status
    assert state.reminders_sent == (1440,)
    assert state.version == before.version + 1 == event.seq
    assert change.expected_version == before.version
    assert event.type is EventType.REMINDER_DUE
    assert event.context == JOURNEY
    assert event.before == {"reminders_sent": (), "updated_at": before.updated_at}
    assert event.after == {"reminders_sent": (1440,), "updated_at": START - timedelta(days=1)}
    assert event.details == DETAILS  # told, never folded
    assert replay([*_history(status), event]) == state


def _history(status: AppointmentStatus) -> list[AppointmentEvent]:
    changes = [new_appointment()]
    for n, target in enumerate([S.SCHEDULED, S.CONFIRMED][: 1 + (status is S.CONFIRMED)], 2):
        changes.append(step(changes[-1].state, target, n))
    return [c.event for c in changes]


@pytest.mark.parametrize(
    "status", [S.PENDING, S.CHECKED_IN, S.COMPLETED, S.CANCELLED, S.NO_SHOW, S.FAILED]
)
def test_only_a_scheduled_or_confirmed_appointment_is_reminded(status: AppointmentStatus) -> None:
    with pytest.raises(IllegalTransition):
        reminded(in_status(status), now=T0 + timedelta(days=1))


@pytest.mark.parametrize("late", [timedelta(0), timedelta(minutes=1)])
def test_no_reminder_from_the_start_on(late: timedelta) -> None:
    with pytest.raises(AppointmentStarted):
        reminded(scheduled()[-1].state, now=START + late)
    reminded(scheduled()[-1].state, now=START - timedelta(seconds=1))  # the last moment


def test_each_reminder_once_per_start() -> None:
    first = reminded(scheduled()[-1].state, 1440).state
    with pytest.raises(IllegalTransition):
        reminded(first, 1440)
    both = reminded(first, 120).state
    assert both.reminders_sent == (1440, 120)  # largest first, whatever the order sent
    assert reminded(reminded(scheduled()[-1].state, 120).state, 1440).state.reminders_sent == (
        1440,
        120,
    )


def test_a_reschedule_clears_the_reminders_sent_so_the_new_time_gets_its_own() -> None:
    sent = reminded(reminded(scheduled()[-1].state, 1440).state, 120).state
    moved = reschedule(
        sent,
        start=START + timedelta(days=2),
        duration_minutes=30,
        hold_id="hold-2",
        invoice_id="inv-2",
        event_id="ev-moved",
        now=START - timedelta(minutes=60),
        context=EventContext(actor="patient:p-1"),
    )
    assert moved.state.reminders_sent == ()
    assert moved.event.before["reminders_sent"] == (1440, 120)
    assert moved.event.after["reminders_sent"] == ()
    again = reminded(moved.state, 1440, now=START)
    assert again.state.reminders_sent == (1440,)


# --- the no-show and its reversal -------------------------------------------------------


def test_a_no_show_records_when_it_was_and_its_invoice() -> None:
    change = no_show(scheduled()[-1].state, no_show_invoice_id="inv-ns")
    assert change.state.status is S.NO_SHOW
    assert change.state.no_show_at == NO_SHOW_AT
    assert change.state.no_show_invoice_id == "inv-ns"
    assert change.state.no_show_fee_cents == 2500  # agreed at booking
    assert change.event.after["no_show_at"] == NO_SHOW_AT
    assert change.event.before["no_show_at"] is None


@pytest.mark.parametrize("target", [S.CHECKED_IN, S.COMPLETED])
@pytest.mark.parametrize("later", [timedelta(0), timedelta(hours=3), timedelta(hours=24)])
def test_staff_reverse_a_no_show_within_24_hours(
    target: AppointmentStatus, later: timedelta
) -> None:
    recorded = no_show(scheduled()[-1].state, no_show_invoice_id="inv-ns").state
    change = reversed_to(target, recorded, NO_SHOW_AT + later)
    assert change.state.status is target
    assert change.event.type is EventType.NO_SHOW_REVERSED
    assert change.event.after == {"status": target, "updated_at": NO_SHOW_AT + later}
    assert change.event.context == STAFF
    # the record of what was reversed stays
    assert (change.state.no_show_at, change.state.no_show_invoice_id) == (NO_SHOW_AT, "inv-ns")


def test_a_no_show_older_than_24_hours_stays() -> None:
    recorded = no_show(scheduled()[-1].state).state
    with pytest.raises(NoShowReversalClosed, match="may be reversed for 24 h"):
        reversed_to(S.CHECKED_IN, recorded, NO_SHOW_AT + timedelta(hours=24, seconds=1))


def test_a_no_show_recorded_before_its_time_was_kept_counts_from_its_last_change() -> None:
    """A no-show stored before ``no_show_at`` existed reads None: its updated_at is when
    it was recorded (nothing changes a NO_SHOW appointment afterwards)."""
    recorded = replace(no_show(scheduled()[-1].state).state, no_show_at=None)
    reversed_to(S.COMPLETED, recorded, NO_SHOW_AT + timedelta(hours=23))
    with pytest.raises(NoShowReversalClosed):
        reversed_to(S.COMPLETED, recorded, NO_SHOW_AT + timedelta(hours=25))


@pytest.mark.parametrize(
    "target", [S.PENDING, S.SCHEDULED, S.CONFIRMED, S.CANCELLED, S.NO_SHOW, S.FAILED]
)
def test_a_reversed_no_show_is_checked_in_or_completed_only(target: AppointmentStatus) -> None:
    recorded = no_show(scheduled()[-1].state).state
    with pytest.raises(InvalidAppointment):
        reversed_to(target, recorded, NO_SHOW_AT)


@pytest.mark.parametrize(
    "status", [S.PENDING, S.SCHEDULED, S.CONFIRMED, S.CHECKED_IN, S.COMPLETED, S.CANCELLED]
)
def test_only_a_no_show_is_reversed(status: AppointmentStatus) -> None:
    with pytest.raises(IllegalTransition):
        reversed_to(S.CHECKED_IN, in_status(status), NO_SHOW_AT)


# --- replay -----------------------------------------------------------------------------


def test_replay_of_every_event_type_rebuilds_each_state() -> None:
    """The contract's lifecycles make every EventType (reminders and a reversal among
    them): the events of each appointment alone rebuild its state after every change."""
    lives: dict[str, list[Change]] = defaultdict(list)
    for change in every_event_type():
        lives[change.state.id].append(change)
    seen = {c.event.type for changes in lives.values() for c in changes}
    assert seen == set(EventType)
    for changes in lives.values():
        events = [c.event for c in changes]
        for n, change in enumerate(changes, start=1):
            assert replay(events[:n]) == change.state


def test_replay_of_a_whole_journey() -> None:
    changes = scheduled()
    changes.append(reminded(changes[-1].state, 1440))
    changes.append(reminded(changes[-1].state, 120))
    changes.append(no_show(changes[-1].state, no_show_invoice_id="inv-ns"))
    changes.append(reversed_to(S.CHECKED_IN, changes[-1].state, NO_SHOW_AT + timedelta(hours=1)))
    changes.append(step(changes[-1].state, S.COMPLETED, 9))
    state = replay(c.event for c in changes)
    assert state == changes[-1].state
    assert (state.status, state.version, state.reminders_sent) == (S.COMPLETED, 7, (1440, 120))
    assert (state.no_show_at, state.no_show_invoice_id, state.no_show_fee_cents) == (
        NO_SHOW_AT,
        "inv-ns",
        2500,
    )
