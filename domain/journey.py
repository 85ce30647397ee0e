"""The appointment's journey after booking, as pure arithmetic: when each reminder is due,
when the no-show check runs, and what comes next. The journey workflow
(workflows/journey.py) waits for these instants; the API shows them (the appointment's
``journey``). Every instant is UTC; the clinic's zone only decides what "quiet" means.

Reminders are offsets of real time before the start: "1440 minutes before" is exactly 24
hours before the start, on a day the clocks change as on any other (a reminder for 09:00
on the morning after the clocks go forward fires at 08:00 the day before, 24 h earlier,
not at 09:00, which would be 23 h). A reminder that would fall inside the clinic's quiet
hours moves earlier, to the last minute before they begin; one whose moment has passed
when the plan is made is skipped (a booking made 3 h ahead gets no 24 h reminder)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# How far before quiet hours a moved reminder fires: their first minute is quiet already.
BEFORE_QUIET = timedelta(minutes=1)

_HHMM = r"([01][0-9]|2[0-3]):([0-5][0-9])"
_QUIET = re.compile(rf"^{_HHMM}-{_HHMM}$")
# The settings value that turns quiet hours off.
NO_QUIET_HOURS = ("", "off", "none")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """[start, end) in the clinic's wall-clock time; it may cross midnight (21:00-08:00).
    Equal ends: no quiet hours at all."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """``HH:MM-HH:MM``; "" / "off" / "none" (or equal ends): None, no quiet hours."""
        text = text.strip()
        if text.lower() in NO_QUIET_HOURS:
            return None
        match = _QUIET.match(text)
        if match is None:
            raise ValueError(f"quiet hours must be HH:MM-HH:MM (e.g. 21:00-08:00), not {text!r}")
        h1, m1, h2, m2 = (int(group) for group in match.groups())
        hours = cls(time(h1, m1), time(h2, m2))
        return None if hours.start == hours.end else hours

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end  # across midnight

    def began(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """When the quiet hours holding ``instant`` began (a UTC instant)."""
        local = instant.astimezone(zone)
        day = local.date()
        if self.start > self.end and local.time() < self.end:
            day -= timedelta(days=1)  # the small hours: they began the evening before
        began = datetime.combine(day, self.start, tzinfo=zone)
        # A wall time the clocks skip (spring forward) reads one way before the gap and
        # one way after it; the later reading is inside the quiet hours. The earlier of the
        # two keeps a moved reminder out of them (and a repeated wall time, in autumn,
        # began at its first occurrence, the earlier reading too).
        return min(began.astimezone(UTC), began.replace(fold=1).astimezone(UTC))


def outside_quiet_hours(instant: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """``instant`` itself, or, inside quiet hours, the last minute before they began."""
    if quiet is None or not quiet.contains(instant.astimezone(zone).time()):
        return instant
    return quiet.began(instant, zone) - BEFORE_QUIET


class ReminderState(StrEnum):
    DUE = "due"  # its timer is set
    SENT = "sent"
    SKIPPED = "skipped"  # its moment had passed when the plan was made, or went by unsent


@dataclass(frozen=True, slots=True)
class PlannedReminder:
    offset_minutes: int
    at: datetime  # when it fires (UTC), after moving out of quiet hours


@dataclass(frozen=True, slots=True)
class JourneyRules:
    """What the journey follows, from the settings, captured when the journey starts so
    that it holds for the journey's whole life."""

    reminder_offsets_minutes: tuple[int, ...] = (1440, 120)
    quiet_hours: QuietHours | None = QuietHours(time(21), time(8))
    no_show_grace_minutes: int = 15
    timezone: str = "Europe/Berlin"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def reminders(self, start: datetime) -> list[PlannedReminder]:
        """Every reminder of an appointment starting at ``start``, earliest first; two
        offsets that land on one moment stay two reminders (each fires once)."""
        planned = [
            PlannedReminder(
                offset,
                outside_quiet_hours(start - timedelta(minutes=offset), self.quiet_hours, self.zone),
            )
            for offset in sorted(set(self.reminder_offsets_minutes), reverse=True)
        ]
        return sorted(planned, key=lambda r: (r.at, -r.offset_minutes))

    def no_show_check_at(self, start: datetime) -> datetime:
        return start + timedelta(minutes=self.no_show_grace_minutes)


class NextAction(StrEnum):
    REMINDER = "reminder"
    NO_SHOW_CHECK = "no_show_check"


@dataclass(frozen=True, slots=True)
class Step:
    action: NextAction
    at: datetime
    offset_minutes: int | None = None  # of a reminder


def next_step(
    rules: JourneyRules,
    start: datetime,
    *,
    planned_at: datetime,
    sent: frozenset[int],
    started: bool,
    awaits_no_show_check: bool,
) -> Step | None:
    """What the journey does next for an appointment starting at ``start``: the earliest
    reminder neither sent nor skipped (skipped: due at or before ``planned_at``, when the
    journey learnt of this start), else the no-show check (if the appointment still
    awaits it), else nothing. ``started``: the start has passed, no reminder is due."""
    if not started:
        for reminder in rules.reminders(start):
            if reminder.offset_minutes not in sent and reminder.at > planned_at:
                return Step(NextAction.REMINDER, reminder.at, reminder.offset_minutes)
    if awaits_no_show_check:
        return Step(NextAction.NO_SHOW_CHECK, rules.no_show_check_at(start))
    return None


def reminder_states(
    rules: JourneyRules, start: datetime, sent: frozenset[int], now: datetime
) -> list[tuple[PlannedReminder, ReminderState]]:
    """Each reminder of ``start`` as the appointment's reader sees it at ``now``."""
    return [
        (
            reminder,
            ReminderState.SENT
            if reminder.offset_minutes in sent
            else ReminderState.DUE
            if reminder.at > now and now < start
            else ReminderState.SKIPPED,
        )
        for reminder in rules.reminders(start)
    ]
