"""The journey's activities (workflows/journey.py): each reads the stored appointment and
acts only if its action still applies, by a conditional transition on the version it read
(re-read and decided again when something else committed first). A late or lost signal
can therefore never make a timer act on stale state: the journey may be wrong about the
appointment, the store never is. Each returns the appointment's facts as it found or left
them, so the journey catches up with whatever it missed.

Idempotent: a reminder and a no-show derive their event ids from their keys (the journey,
the start they are for, the offset), so a retry whose first attempt committed finds its
event and writes nothing twice; the no-show fee is ordered at Billing by key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from activities.appointments import Reapplied, reapplied
from activities.context import log_for
from activities.errors import refusals_are_final
from activities.models import (
    JourneyRef,
    NoShowCheck,
    NoShowPlan,
    NoShowRecord,
    NoShowRecorded,
    ReminderOrder,
    ReminderResult,
)
from application.ports import AppointmentRepository, DoctorCalendars
from config import Settings
from domain import model
from domain.clock import now_utc
from domain.errors import AppointmentNotFound, DomainError, PeerUnavailable
from domain.events import EventContext, event_id_for
from domain.model import REMINDABLE, Appointment
from domain.status import AppointmentStatus
from peers.breaker import BreakerOpen
from workflows.contracts.journey import ACTOR, Facts

# The links a reminder carries: appointment -> {"confirm": url, "cancel": url}.
Links = Callable[[Appointment], dict[str, str]]


def _context(reason: str) -> EventContext:
    info = activity.info()
    return EventContext(
        actor=ACTOR, reason=reason, workflow_id=info.workflow_id, run_id=info.workflow_run_id
    )


class JourneyMetrics:
    """What the journey's activities count (the worker exports it, telemetry/metrics.py)."""

    def reminder_sent(self, offset_minutes: int) -> None:
        """One reminder event committed."""

    def no_show_recorded(self) -> None:
        """One automatic no-show committed."""


class JourneyActivities:
    def __init__(
        self,
        store: AppointmentRepository,
        calendars: DoctorCalendars,
        settings: Settings,
        links: Links,
        metrics: JourneyMetrics | None = None,
    ) -> None:
        self._store, self._calendars, self._settings = store, calendars, settings
        self._links = links
        self._metrics = metrics or JourneyMetrics()

    async def _current(self, appointment_id: str) -> Appointment:
        appointment = await self._store.get(appointment_id)
        if appointment is None:
            raise AppointmentNotFound(f"no appointment {appointment_id}")
        return appointment

    async def _decide(
        self, appointment_id: str, change_of: Callable[[Appointment], Awaitable[Reapplied]]
    ) -> tuple[Appointment, bool]:
        """Commit what ``change_of`` decides for the current state, at the version read
        (``activities.appointments.reapplied``); (the stored state, whether this call's
        change is in it)."""
        stored = await reapplied(self._store, appointment_id, change_of)
        if stored is None:  # no longer applies: the journey learns the state as it is
            return await self._current(appointment_id), False
        return stored, True

    @activity.defn(name="journey_facts")
    async def facts(self, ref: JourneyRef) -> Facts:
        """A read: idempotent by nature. The journey's catch-up when it heard nothing."""
        async with refusals_are_final():
            return Facts.of(await self._current(ref.appointment_id))

    @activity.defn(name="send_reminder")
    async def send_reminder(self, order: ReminderOrder) -> ReminderResult:
        """The appointment.reminder_due event (status unchanged), if the reminder still
        applies: SCHEDULED or CONFIRMED, still at the start it is for, not started, not
        sent. Idempotent by the event id from the key: a retry whose first attempt
        committed finds its event and answers "sent"."""
        event_id = event_id_for(order.idempotency_key)
        if await self._store.event(event_id) is not None:
            return ReminderResult(
                facts=Facts.of(await self._current(order.appointment_id)), sent=True
            )
        appointment = await self._current(order.appointment_id)
        details = await self._details(appointment, order.offset_minutes)
        now = now_utc()

        async def reminded(current: Appointment) -> Reapplied:
            if (
                current.status not in REMINDABLE
                or current.start != order.start
                or now >= current.start
                or order.offset_minutes in current.reminders_sent
            ):
                return None
            return model.remind(
                current,
                offset_minutes=order.offset_minutes,
                event_id=event_id,
                now=now,
                context=_context(f"reminder {order.offset_minutes} minutes before the start"),
                details=details,
            )

        stored, sent = await self._decide(order.appointment_id, reminded)
        if sent:
            self._metrics.reminder_sent(order.offset_minutes)
        log = log_for(_context("reminder"))
        log.info(
            "reminder {} min before {} of {}: {}",
            order.offset_minutes,
            order.start.isoformat(),
            order.appointment_id,
            "sent" if sent else "no longer applies",
        )
        return ReminderResult(facts=Facts.of(stored), sent=sent)

    async def _details(self, appointment: Appointment, offset_minutes: int) -> dict[str, Any]:
        """What the notification needs beyond the state: the start in the clinic's zone,
        the doctor's name, and the patient's action links (valid for this start only)."""
        zone = self._settings.clinic_zone
        return {
            "offset_minutes": offset_minutes,
            "start_local": appointment.start.astimezone(zone).isoformat(),
            "timezone": self._settings.clinic_timezone,
            "doctor_name": await self._doctor_name(appointment.doctor_id),
            "links": self._links(appointment),
        }

    async def _doctor_name(self, doctor_id: str) -> str:
        """From the Doctor Service; while it cannot answer, the reminder goes out on time
        with the doctor's id rather than late with the name."""
        try:
            return (await self._calendars.calendar(doctor_id)).doctor_name
        except (PeerUnavailable, BreakerOpen, DomainError) as error:
            log_for(_context("reminder")).warning("doctor {} unnamed: {}", doctor_id, error)
            return doctor_id

    @activity.defn(name="plan_no_show")
    async def plan_no_show(self, check: NoShowCheck) -> NoShowPlan:
        """A read: idempotent by nature. Whether the no-show still applies (SCHEDULED or
        CONFIRMED, at the start the check is for, which has passed) and its fee, agreed at
        booking."""
        async with refusals_are_final():
            current = await self._current(check.appointment_id)
        return NoShowPlan(
            facts=Facts.of(current),
            applies=_no_show_applies(current, check.start, now_utc()),
            patient_id=current.patient_id,
            fee_cents=current.no_show_fee_cents,
        )

    @activity.defn(name="record_no_show")
    async def record_no_show(self, record: NoShowRecord) -> NoShowRecorded:
        """NO_SHOW (actor system:journey) with the fee's invoice, if it still applies,
        at the version read. Idempotent by the event id from the key."""
        event_id = event_id_for(record.idempotency_key)
        if await self._store.event(event_id) is not None:
            current = await self._current(record.appointment_id)
            return NoShowRecorded(facts=Facts.of(current), recorded=True)
        now = now_utc()

        async def no_show(current: Appointment) -> Reapplied:
            if not _no_show_applies(current, record.start, now):
                return None
            fee = {"no_show_invoice_id": record.fee_invoice_id} if record.fee_invoice_id else {}
            return model.transition(
                current,
                AppointmentStatus.NO_SHOW,
                event_id=event_id,
                now=now,
                context=_context("nobody checked the patient in by the end of the grace time"),
                **fee,
            )

        stored, recorded = await self._decide(record.appointment_id, no_show)
        if recorded:
            self._metrics.no_show_recorded()
        log_for(_context("no-show")).info(
            "appointment {} {}",
            record.appointment_id,
            "recorded NO_SHOW" if recorded else f"is {stored.status}: no no-show",
        )
        return NoShowRecorded(facts=Facts.of(stored), recorded=recorded)

    def all(self) -> list[Callable[..., Any]]:
        return [self.facts, self.send_reminder, self.plan_no_show, self.record_no_show]


def _no_show_applies(appointment: Appointment, start: datetime, now: datetime) -> bool:
    return appointment.status in REMINDABLE and appointment.start == start and now >= start
