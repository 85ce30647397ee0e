"""The journey's plan as pure arithmetic (domain/journey.py): quiet hours, when each
reminder fires (real time before the start, DST included), which is skipped, and what
comes next."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.journey import (
    JourneyRules,
    NextAction,
    PlannedReminder,
    QuietHours,
    ReminderState,
    Step,
    next_step,
    outside_quiet_hours,
    reminder_states,
)

BERLIN = ZoneInfo("Europe/Berlin")
RULES = JourneyRules()  # [1440, 120], 21:00-08:00, 15 minutes' grace, Europe/Berlin
NIGHT = QuietHours(time(21), time(8))


def berlin(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time in Berlin, as the UTC instant the journey works with."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def local(instant: datetime) -> datetime:
    return instant.astimezone(BERLIN)


# --- quiet hours ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("21:00-08:00", NIGHT),
        (" 22:30-06:15 ", QuietHours(time(22, 30), time(6, 15))),
        ("12:00-14:00", QuietHours(time(12), time(14))),
        ("00:00-23:59", QuietHours(time(0), time(23, 59))),
    ],
)
def test_quiet_hours_parse(text: str, hours: QuietHours) -> None:
    assert QuietHours.parse(text) == hours
    assert QuietHours.parse(str(hours)) == hours


@pytest.mark.parametrize("text", ["", "off", "OFF", "none", "  off  ", "08:00-08:00"])
def test_no_quiet_hours(text: str) -> None:
    assert QuietHours.parse(text) is None


@pytest.mark.parametrize(
    "text", ["21:00", "24:00-08:00", "21:60-08:00", "9:00-08:00", "21:00 - 08:00", "night"]
)
def test_quiet_hours_in_another_form_are_refused_naming_the_form(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        QuietHours.parse(text)


@pytest.mark.parametrize(
    ("wall", "quiet"),
    [
        (time(20, 59), False),
        (time(21), True),
        (time(23, 59), True),
        (time(0), True),
        (time(7, 59), True),
        (time(8), False),
        (time(12), False),
    ],
)
def test_quiet_hours_across_midnight(wall: time, quiet: bool) -> None:
    assert NIGHT.contains(wall) is quiet


def test_quiet_hours_within_a_day() -> None:
    lunch = QuietHours(time(12), time(14))
    assert [lunch.contains(time(h)) for h in (11, 12, 13, 14)] == [False, True, True, False]


# --- moving out of quiet hours ----------------------------------------------------------


@pytest.mark.parametrize(
    "due",
    [
        berlin(2030, 1, 8, 21, 0),
        berlin(2030, 1, 8, 23, 30),
        berlin(2030, 1, 9, 0, 0),
        berlin(2030, 1, 9, 3, 0),
        berlin(2030, 1, 9, 7, 59),
    ],
)
def test_a_reminder_due_in_quiet_hours_moves_to_the_evening_before_they_began(
    due: datetime,
) -> None:
    assert outside_quiet_hours(due, NIGHT, BERLIN) == berlin(2030, 1, 8, 20, 59)


@pytest.mark.parametrize("wall", [(8, 0), (20, 59), (12, 0)])
def test_a_reminder_outside_quiet_hours_stays(wall: tuple[int, int]) -> None:
    due = berlin(2030, 1, 9, *wall)
    assert outside_quiet_hours(due, NIGHT, BERLIN) == due
    assert outside_quiet_hours(due, None, BERLIN) == due


def test_the_two_hour_reminder_of_a_morning_appointment_goes_out_the_evening_before() -> None:
    start = berlin(2030, 1, 9, 9, 0)  # the 120 reminder would be at 07:00: quiet
    assert RULES.reminders(start) == [
        PlannedReminder(1440, berlin(2030, 1, 8, 9, 0)),
        PlannedReminder(120, berlin(2030, 1, 8, 20, 59)),
    ]


def test_quiet_hours_that_begin_in_the_hour_the_clocks_skip_are_still_left() -> None:
    """On 2026-03-29 Berlin's clocks jump from 02:00 to 03:00: quiet hours from 02:30 begin
    at 03:00 that day. A reminder due at 05:00 must go out before 03:00; reading 02:30 as
    03:30 moved it to 03:29, inside the quiet hours. (Fails without the fix.)"""
    early = QuietHours(time(2, 30), time(8))
    moved = outside_quiet_hours(berlin(2026, 3, 29, 5, 0), early, BERLIN)
    assert not early.contains(local(moved).time())
    assert moved < datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # the jump: 02:00 CET


# --- the next step ----------------------------------------------------------------------


def step_for(
    start: datetime,
    planned_at: datetime,
    sent: frozenset[int] = frozenset(),
    *,
    started: bool = False,
    awaits_no_show_check: bool = True,
    rules: JourneyRules = RULES,
) -> Step | None:
    return next_step(
        rules,
        start,
        planned_at=planned_at,
        sent=sent,
        started=started,
        awaits_no_show_check=awaits_no_show_check,
    )


START = berlin(2030, 1, 9, 15, 0)  # an afternoon: neither reminder is quiet


def test_the_first_step_is_the_earliest_reminder() -> None:
    assert step_for(START, START - timedelta(days=7)) == Step(
        NextAction.REMINDER, START - timedelta(hours=24), 1440
    )


def test_a_booking_three_hours_ahead_gets_no_day_before_reminder_but_the_two_hour_one() -> None:
    assert step_for(START, START - timedelta(hours=3)) == Step(
        NextAction.REMINDER, START - timedelta(hours=2), 120
    )


def test_a_reminder_due_exactly_when_the_plan_is_made_is_skipped() -> None:
    step = step_for(START, START - timedelta(hours=24))
    assert step is not None
    assert step.offset_minutes == 120


def test_sent_reminders_are_not_sent_again() -> None:
    planned = START - timedelta(days=7)
    assert step_for(START, planned, frozenset({1440})) == Step(
        NextAction.REMINDER, START - timedelta(hours=2), 120
    )
    assert step_for(START, planned, frozenset({1440, 120})) == Step(
        NextAction.NO_SHOW_CHECK, START + timedelta(minutes=15)
    )


def test_after_the_reminders_the_no_show_check_at_start_plus_grace() -> None:
    planned = START - timedelta(hours=1)  # both reminders passed before the plan
    assert step_for(START, planned) == Step(NextAction.NO_SHOW_CHECK, START + timedelta(minutes=15))
    assert step_for(START, START - timedelta(days=7), started=True) == Step(
        NextAction.NO_SHOW_CHECK, START + timedelta(minutes=15)
    )


def test_nothing_is_next_once_no_no_show_check_is_awaited() -> None:
    assert step_for(START, START - timedelta(hours=1), awaits_no_show_check=False) is None
    assert step_for(START, START, started=True, awaits_no_show_check=False) is None
    # before the start, a reminder still comes first
    step = step_for(START, START - timedelta(days=7), awaits_no_show_check=False)
    assert step is not None
    assert step.action is NextAction.REMINDER


def test_no_reminders_configured_leaves_the_no_show_check() -> None:
    rules = JourneyRules(reminder_offsets_minutes=())
    assert step_for(START, START - timedelta(days=7), rules=rules) == Step(
        NextAction.NO_SHOW_CHECK, START + timedelta(minutes=15)
    )


# --- DST: offsets are real time ---------------------------------------------------------


def test_the_day_before_reminder_across_the_spring_change_is_24_hours_before() -> None:
    """Berlin goes from CET to CEST on 2026-03-29 at 02:00. 09:00 CEST that morning is
    07:00Z; 24 h earlier is 07:00Z on the 28th, 08:00 CET: the end of the quiet hours, so
    not moved. (09:00 CET on the 28th would be 23 h before.)"""
    start = berlin(2026, 3, 29, 9, 0)
    assert start == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    step = step_for(start, datetime(2026, 3, 20, tzinfo=UTC))
    assert step == Step(NextAction.REMINDER, datetime(2026, 3, 28, 7, 0, tzinfo=UTC), 1440)
    assert local(step.at).strftime("%H:%M %Z") == "08:00 CET"
    assert start - step.at == timedelta(hours=24)


def test_the_day_before_reminder_across_the_autumn_change_is_24_hours_before() -> None:
    """Berlin goes back from CEST to CET on 2026-10-25 at 03:00. 09:00 CET that morning is
    08:00Z; 24 h earlier is 08:00Z on the 24th, 10:00 CEST."""
    start = berlin(2026, 10, 25, 9, 0)
    assert start == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    step = step_for(start, datetime(2026, 10, 20, tzinfo=UTC))
    assert step == Step(NextAction.REMINDER, datetime(2026, 10, 24, 8, 0, tzinfo=UTC), 1440)
    assert local(step.at).strftime("%H:%M %Z") == "10:00 CEST"
    assert start - step.at == timedelta(hours=24)


def test_a_reminder_moved_across_the_change_is_the_evening_before_in_its_own_offset() -> None:
    """The 120 reminder of 09:00 CEST on 2026-03-29 would be 07:00 CEST (quiet): it goes
    out at 20:59 CET on the 28th, 19:59Z."""
    start = berlin(2026, 3, 29, 9, 0)
    reminders = RULES.reminders(start)
    assert reminders[-1] == PlannedReminder(120, datetime(2026, 3, 28, 19, 59, tzinfo=UTC))


# --- what the reader sees ---------------------------------------------------------------


def test_reminder_states_sent_due_and_skipped() -> None:
    def states(sent: set[int], now: datetime) -> list[tuple[int, ReminderState]]:
        return [
            (reminder.offset_minutes, state)
            for reminder, state in reminder_states(RULES, START, frozenset(sent), now)
        ]

    week_before = START - timedelta(days=7)
    assert states(set(), week_before) == [(1440, ReminderState.DUE), (120, ReminderState.DUE)]
    assert states({1440}, START - timedelta(hours=5)) == [
        (1440, ReminderState.SENT),
        (120, ReminderState.DUE),
    ]
    # booked 3 h ahead: the day-before one had passed
    assert states(set(), START - timedelta(hours=3)) == [
        (1440, ReminderState.SKIPPED),
        (120, ReminderState.DUE),
    ]
    assert states({120}, START + timedelta(minutes=1)) == [
        (1440, ReminderState.SKIPPED),
        (120, ReminderState.SENT),
    ]


# --- the property -----------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def quiet_hours(draw: st.DrawFn) -> QuietHours | None:
    """Quiet hours leaving at least two hours a day free (longer than any clock change),
    or none at all."""
    if draw(st.booleans()):
        return None
    begin = draw(minutes_of_day)
    length = draw(st.integers(min_value=1, max_value=22 * 60))
    end = (begin + length) % (24 * 60)
    return QuietHours(time(begin // 60, begin % 60), time(end // 60, end % 60))


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    offsets=st.lists(st.integers(min_value=1, max_value=3 * 1440), min_size=1, max_size=4),
    quiet=quiet_hours(),
    zone=st.sampled_from(ZONES),
)
def test_a_planned_reminder_is_never_quiet_and_never_late(
    start: datetime, offsets: list[int], quiet: QuietHours | None, zone: str
) -> None:
    rules = JourneyRules(tuple(offsets), quiet, timezone=zone)
    reminders = rules.reminders(start)
    assert sorted(r.offset_minutes for r in reminders) == sorted(set(offsets))
    for reminder in reminders:
        assert reminder.at <= start - timedelta(minutes=reminder.offset_minutes)
        if quiet is not None:
            assert not quiet.contains(reminder.at.astimezone(ZoneInfo(zone)).time())
