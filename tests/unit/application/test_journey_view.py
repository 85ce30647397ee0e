"""The journey the reads show (application/journeys.py), from the stored appointment and
the deployment's journey settings, Temporal not asked: each reminder's instant (moved out
of quiet hours; 24 h of real time on the day the clocks change) and state, the next action
and when, and no journey while PENDING or for FAILED."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.journeys import journey_of
from application.permissions import NotVisible, Role
from application.results import Journey
from config import load_settings
from domain.journey import JourneyRules, NextAction, ReminderState
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import NOW, STAFF, asking

S = AppointmentStatus
RULES = JourneyRules()  # reminders 1440 and 120 min before, quiet 21:00-08:00 Berlin, grace 15
# Tuesday 2030-01-08 14:00 in Berlin (13:00 UTC): neither reminder is in quiet hours.
AFTERNOON = datetime(2030, 1, 8, 13, 0, tzinfo=UTC)


def appointment(
    start: datetime, status: AppointmentStatus = S.SCHEDULED, **more: Any
) -> Appointment:
    return dataclasses.replace(
        Appointment(
            id="0b5f2c7e-4f1a-4f3e-9a51-7c1d2e3f4a5b",
            patient_id="pat-anna-schmidt",
            doctor_id="doc-on-call",
            start=start,
            duration_minutes=15,
            timezone="Europe/Berlin",
            status=status,
            version=2,
            created_at=start - timedelta(days=3),
            updated_at=start - timedelta(days=3),
            no_show_fee_cents=2500,
        ),
        **more,
    )


def states(journey: Journey | None) -> list[tuple[int, datetime, ReminderState]]:
    assert journey is not None
    return [(r.offset_minutes, r.due_at, r.state) for r in journey.reminders]


def test_a_booked_appointment_shows_both_reminders_due_and_the_first_next() -> None:
    now = AFTERNOON - timedelta(days=2)
    journey = journey_of(appointment(AFTERNOON), RULES, now)

    assert states(journey) == [
        (1440, AFTERNOON - timedelta(days=1), ReminderState.DUE),
        (120, AFTERNOON - timedelta(hours=2), ReminderState.DUE),
    ]
    assert journey is not None
    assert (journey.next_action, journey.next_action_at) == (
        NextAction.REMINDER,
        AFTERNOON - timedelta(days=1),
    )
    assert journey.no_show_check_at == AFTERNOON + timedelta(minutes=15)
    assert journey.no_show_fee_cents == 2500


def test_on_the_morning_the_clocks_changed_24_hours_is_real_time_and_quiet_hours_move_it() -> None:
    # Sunday 2030-03-31, 09:00 in Berlin: the clocks went forward at 02:00 that night.
    start = datetime(2030, 3, 31, 7, 0, tzinfo=UTC)
    journey = journey_of(appointment(start), RULES, start - timedelta(days=3))

    assert states(journey) == [
        # 24 h before: 08:00 on Saturday by the clock (still winter time), not 09:00.
        (1440, datetime(2030, 3, 30, 7, 0, tzinfo=UTC), ReminderState.DUE),
        # 2 h before is 07:00, inside the quiet hours: the minute before they began,
        # 20:59 on Saturday evening (winter time, UTC+1).
        (120, datetime(2030, 3, 30, 19, 59, tzinfo=UTC), ReminderState.DUE),
    ]


def test_a_sent_reminder_reads_sent_and_the_next_one_is_next() -> None:
    now = AFTERNOON - timedelta(hours=5)
    journey = journey_of(appointment(AFTERNOON, reminders_sent=(1440,)), RULES, now)

    assert [state for _, _, state in states(journey)] == [ReminderState.SENT, ReminderState.DUE]
    assert journey is not None
    assert (journey.next_action, journey.next_action_at) == (
        NextAction.REMINDER,
        AFTERNOON - timedelta(hours=2),
    )


def test_a_booking_made_three_hours_ahead_skips_the_24_hour_reminder() -> None:
    journey = journey_of(appointment(AFTERNOON), RULES, AFTERNOON - timedelta(hours=3))

    assert [state for _, _, state in states(journey)] == [
        ReminderState.SKIPPED,
        ReminderState.DUE,
    ]


def test_after_the_start_the_no_show_check_is_next() -> None:
    now = AFTERNOON + timedelta(minutes=5)
    journey = journey_of(appointment(AFTERNOON, reminders_sent=(1440, 120)), RULES, now)

    assert journey is not None
    assert (journey.next_action, journey.next_action_at) == (
        NextAction.NO_SHOW_CHECK,
        AFTERNOON + timedelta(minutes=15),
    )


@pytest.mark.parametrize("status", [S.CHECKED_IN, S.COMPLETED, S.CANCELLED, S.NO_SHOW])
def test_once_checked_in_or_ended_nothing_is_next_and_what_was_not_sent_never_will_be(
    status: AppointmentStatus,
) -> None:
    now = AFTERNOON - timedelta(hours=5)
    journey = journey_of(appointment(AFTERNOON, status, reminders_sent=(1440,)), RULES, now)

    assert [state for _, _, state in states(journey)] == [
        ReminderState.SENT,
        ReminderState.SKIPPED,
    ]
    assert journey is not None
    assert (journey.next_action, journey.next_action_at) == (None, None)


@pytest.mark.parametrize("status", [S.PENDING, S.FAILED])
def test_no_journey_while_pending_or_for_a_failed_one(status: AppointmentStatus) -> None:
    assert journey_of(appointment(AFTERNOON, status), RULES, AFTERNOON - timedelta(days=2)) is None


def test_a_reminder_sent_under_other_settings_is_still_shown_sent() -> None:
    now = AFTERNOON - timedelta(hours=5)
    journey = journey_of(appointment(AFTERNOON, reminders_sent=(2880,)), RULES, now)

    assert states(journey)[0] == (2880, AFTERNOON - timedelta(days=2), ReminderState.SENT)
    assert len(states(journey)) == 3


def test_the_rules_are_the_deployments_settings() -> None:
    settings = load_settings(environment="test", reminder_offsets_minutes=[60], quiet_hours="off")
    world = World(settings=settings, now=AFTERNOON - timedelta(days=1))
    journey = world.services.journeys.of(appointment(AFTERNOON))

    assert states(journey) == [(60, AFTERNOON - timedelta(hours=1), ReminderState.DUE)]


async def test_a_stored_appointments_journey_is_read_by_whom_may_read_it(world: World) -> None:
    planted = await world.repository.plant(start=NOW + timedelta(days=2))

    shown = await world.services.journeys.read(planted.id, STAFF)

    assert shown == journey_of(planted, world.settings.journey_rules, NOW)
    assert shown is not None
    assert shown.next_action is NextAction.REMINDER
    with pytest.raises(NotVisible):
        await world.services.journeys.read(planted.id, asking(Role.PATIENT, "pat-someone-else"))
