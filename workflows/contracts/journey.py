"""The appointment's journey (``AppointmentJourneyWorkflow``): one run per appointment, id
``journey-<appointment id>``, from its first SCHEDULED to a terminal status. How it is
started, what it is told when the appointment changes, and what it shows."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.journey import JourneyRules, NextAction, QuietHours
from domain.model import Appointment
from domain.status import AppointmentStatus

WORKFLOW = "AppointmentJourneyWorkflow"
# The lifecycle tells the journey what changed (a reschedule, a check-in, an end): the
# appointment's facts after the change. A signal, not an update: the change has happened
# whatever the journey makes of it, and a lost signal is caught up at the next timer.
CHANGED_SIGNAL = "appointment_changed"
VIEW_QUERY = "journey"
# The actor of the changes the journey makes itself (reminders, the automatic no-show).
ACTOR = "system:journey"


def workflow_id(appointment_id: str) -> str:
    return f"journey-{appointment_id}"


class Facts(BaseModel):
    """What the journey knows of the appointment: its status, start and version (a newer
    version wins; an older one, a late signal, is ignored), and the reminders sent for
    that start."""

    model_config = ConfigDict(frozen=True)

    status: AppointmentStatus
    start: AwareDatetime
    version: int
    reminders_sent: tuple[int, ...] = ()

    @classmethod
    def of(cls, appointment: Appointment) -> Facts:
        return cls(
            status=appointment.status,
            start=appointment.start,
            version=appointment.version,
            reminders_sent=appointment.reminders_sent,
        )

    @property
    def ended(self) -> bool:
        """A terminal status (COMPLETED, CANCELLED, NO_SHOW, FAILED) ends the journey."""
        return self.status.is_terminal


class Rules(BaseModel):
    """``domain.journey.JourneyRules`` as the run's input carries them: the settings when
    the journey started, for its whole life."""

    model_config = ConfigDict(frozen=True)

    reminder_offsets_minutes: tuple[int, ...] = (1440, 120)
    quiet_hours: str | None = "21:00-08:00"  # None: no quiet hours
    no_show_grace_minutes: int = 15
    timezone: str = "Europe/Berlin"

    @classmethod
    def of(cls, rules: JourneyRules) -> Rules:
        return cls(
            reminder_offsets_minutes=rules.reminder_offsets_minutes,
            quiet_hours=str(rules.quiet_hours) if rules.quiet_hours else None,
            no_show_grace_minutes=rules.no_show_grace_minutes,
            timezone=rules.timezone,
        )

    def rules(self) -> JourneyRules:
        return JourneyRules(
            reminder_offsets_minutes=self.reminder_offsets_minutes,
            quiet_hours=QuietHours.parse(self.quiet_hours or ""),
            no_show_grace_minutes=self.no_show_grace_minutes,
            timezone=self.timezone,
        )


class JourneyRequest(BaseModel):
    appointment_id: str
    patient_id: str
    doctor_id: str
    facts: Facts
    rules: Rules
    # Carried over by continue-as-new: when the journey learnt of the current start (a
    # reminder due before that is skipped), and the reminders already handled for it.
    planned_at: AwareDatetime | None = None
    handled: tuple[int, ...] = ()
    no_show_attempts: int = 0


class JourneyView(BaseModel):
    """The ``journey`` query's answer, for operators (the API computes its own view
    from the stored appointment, without asking Temporal)."""

    status: AppointmentStatus
    start: datetime
    reminders_handled: tuple[int, ...]
    next_action: NextAction | None
    next_action_at: datetime | None


class JourneyOutcome(BaseModel):
    appointment_id: str
    status: AppointmentStatus  # the terminal status that ended it
