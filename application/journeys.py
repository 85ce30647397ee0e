"""The appointment's journey as the reads show it (REST's ``journey``, GraphQL's
``journey``): the reminders of its current start and their states, the next action and
when, from the stored appointment and this deployment's journey settings. Temporal is not
asked: a read must not depend on the workflow service, and the stored appointment is the
truth the journey itself acts on (workflows/journey.py).

What it shows is what the journey does under the settings the API runs with; a journey
follows the settings of when it started (its input), so after a change of the reminder
settings an older journey may differ until it ends. A reminder whose moment has passed
unsent reads ``skipped`` (the journey skips it too, unless its timer is firing that very
moment); the next action of an appointment the journey is about to act on may lie a few
seconds in the past."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from application.access import Requester, visible
from application.permissions import Action
from application.ports import AppointmentRepository
from application.results import Journey, JourneyReminder
from domain.clock import Clock, now_utc
from domain.journey import JourneyRules, ReminderState, next_step, reminder_states
from domain.model import REMINDABLE, Appointment
from domain.status import AppointmentStatus

# No journey to show: the booking saga has not scheduled it yet, or it never was (an
# appointment whose booking failed, or one entered in error).
WITHOUT_JOURNEY = frozenset({AppointmentStatus.PENDING, AppointmentStatus.FAILED})


def journey_of(appointment: Appointment, rules: JourneyRules, now: datetime) -> Journey | None:
    """The journey of ``appointment`` at ``now``; None while PENDING and for FAILED."""
    if appointment.status in WITHOUT_JOURNEY:
        return None
    start, sent = appointment.start, frozenset(appointment.reminders_sent)
    # A reminder sent for an offset the settings no longer name is still shown, as sent.
    offsets = tuple(sorted(set(rules.reminder_offsets_minutes) | sent, reverse=True))
    rules = dataclasses.replace(rules, reminder_offsets_minutes=offsets)
    awaited = appointment.status in REMINDABLE
    reminders = [
        JourneyReminder(
            offset_minutes=planned.offset_minutes,
            due_at=planned.at,
            # Checked in, or ended: what was not sent will not be.
            state=ReminderState.SKIPPED if state is ReminderState.DUE and not awaited else state,
        )
        for planned, state in reminder_states(rules, start, sent, now)
    ]
    step = (
        next_step(
            rules,
            start,
            planned_at=now,
            sent=sent,
            started=now >= start,
            awaits_no_show_check=True,
        )
        if awaited
        else None
    )
    return Journey(
        reminders=reminders,
        next_action=step.action if step else None,
        next_action_at=step.at if step else None,
        no_show_check_at=rules.no_show_check_at(start),
        no_show_fee_cents=appointment.no_show_fee_cents,
    )


class Journeys:
    """The journeys the reads show, under the deployment's rules and the clock."""

    def __init__(
        self, repository: AppointmentRepository, rules: JourneyRules, clock: Clock = now_utc
    ) -> None:
        self._repository, self._rules, self._clock = repository, rules, clock

    def of(self, appointment: Appointment) -> Journey | None:
        """The journey of an appointment the caller was already allowed to read."""
        return journey_of(appointment, self._rules, self._clock())

    async def read(self, appointment_id: str, requester: Requester) -> Journey | None:
        """The journey of the stored appointment, if the caller may read it (a row of the
        read view names the appointment; its journey comes from the write model)."""
        who = requester.principal
        return self.of(await visible(self._repository, who, Action.READ, appointment_id))
