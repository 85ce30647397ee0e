"""The sagas' changes of the appointment itself, each through the unit of work (state,
event and outbox row in one transaction): persist PENDING, mark SCHEDULED or FAILED, plan
and commit a cancellation or a move, record a late invoice, withdraw a booking, reverse
a no-show and record its fee's void. Each is idempotent by the event id it derives from
its key; its docstring says how a retry whose first attempt committed is recognised."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from temporalio import activity

from activities.context import in_this_run, log_for
from activities.errors import refusals_are_final
from activities.models import (
    AppointmentRef,
    AppointmentSnapshot,
    Cancel,
    CancellationPlan,
    InvoiceRecord,
    InvoiceRecorded,
    Move,
    NewAppointment,
    NoShowFeeVoid,
    NoShowReversal,
    NoShowReversalPlan,
    RescheduleCheck,
    ReschedulePlan,
    StatusChange,
    Withdrawal,
    Withdrawn,
)
from application.ports import AppointmentRepository
from config import Settings
from domain import model
from domain.clock import now_utc
from domain.errors import AppointmentNotFound, ConcurrencyConflict, IllegalTransition
from domain.events import event_id_for
from domain.model import RESCHEDULABLE, Appointment, Change
from domain.policy import CancellationPolicy
from domain.rules import BookingLimits, end_of, validate_requested_time
from domain.status import AppointmentStatus, can_transition, ensure_transition

# How often a saga's own change is re-read and reapplied when an edit raced it.
REAPPLY_ATTEMPTS = 3


def requested_reason(new: NewAppointment) -> str:
    """The appointment.requested event's reason: also whether staff booked it over the
    patient's cap of active appointments (application/quotas.py)."""
    if new.over_patient_cap:
        return "booking requested over the patient's cap of active appointments"
    return "booking requested"


# What a change of the current state is: the change to commit, the state it is already
# in (a retry whose first attempt committed), or None (nothing to do any more).
Reapplied = Change | Appointment | None


def snapshot(stored: Appointment) -> AppointmentSnapshot:
    return AppointmentSnapshot(
        appointment_id=stored.id,
        status=stored.status,
        version=stored.version,
        start=stored.start,
        reminders_sent=stored.reminders_sent,
    )


async def reapplied(
    store: AppointmentRepository,
    appointment_id: str,
    change_of: Callable[[Appointment], Awaitable[Reapplied]],
) -> Appointment | None:
    """Commit the change ``change_of`` makes of the current state, read again and
    reapplied when another change (an edit of the notes) committed first: the conditional
    transition on the version read. Used by the sagas' own changes and the journey's, all
    retried until done: a conflict that persists is a transient fault (retried later),
    never a refusal. None: ``change_of`` found nothing to do."""
    async with refusals_are_final():
        for _ in range(REAPPLY_ATTEMPTS):
            current = await store.get(appointment_id)
            if current is None:  # the saga persisted it: a read that missed it, retried
                raise RuntimeError(f"appointment {appointment_id} is not stored yet")
            change = await change_of(current)
            if not isinstance(change, Change):
                return change
            try:
                return await store.commit(change)
            except ConcurrencyConflict:
                continue
    raise RuntimeError(f"appointment {appointment_id} kept changing; trying again")


class AppointmentActivities:
    def __init__(self, store: AppointmentRepository, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    async def _load(self, appointment_id: str) -> Appointment:
        appointment = await self._store.get(appointment_id)
        if appointment is None:
            raise AppointmentNotFound(f"no appointment {appointment_id}")
        return appointment

    async def _reapply(
        self, appointment_id: str, change_of: Callable[[Appointment], Awaitable[Reapplied]]
    ) -> Appointment | None:
        return await reapplied(self._store, appointment_id, change_of)

    # --- booking -------------------------------------------------------------------------

    @activity.defn(name="persist_pending")
    async def persist_pending(self, new: NewAppointment) -> AppointmentSnapshot:
        """State, event and outbox row in one transaction; idempotent by the event id
        derived from ``new.idempotency_key``."""
        settings = self._settings
        change = model.request(
            appointment_id=new.appointment_id,
            event_id=event_id_for(new.idempotency_key),
            patient_id=new.patient_id,
            doctor_id=new.doctor_id,
            start=new.start.astimezone(UTC),
            duration_minutes=new.duration_minutes,
            timezone=settings.clinic_timezone,
            reason=new.reason,
            hold_id=new.hold_id,
            now=now_utc(),
            context=in_this_run(new.caller, requested_reason(new)),
            policy=CancellationPolicy(
                settings.cancellation_free_hours,
                settings.cancellation_fee_cents,
                late_reschedule_counts=True,
            ),
            no_show_fee_cents=settings.no_show_fee_cents,
        )
        async with refusals_are_final():
            stored = await self._store.commit(change)
        log_for(new.caller).info("appointment {} persisted PENDING", stored.id)
        return snapshot(stored)

    @activity.defn(name="mark_scheduled")
    async def mark_scheduled(self, change: StatusChange) -> AppointmentSnapshot:
        """PENDING -> SCHEDULED; idempotent by the event id from the key: a retry whose
        first attempt committed changes nothing, even if the appointment moved on since."""
        stored = await self._mark(change, AppointmentStatus.SCHEDULED)
        assert stored is not None
        return snapshot(stored)

    @activity.defn(name="mark_failed")
    async def mark_failed(self, change: StatusChange) -> None:
        """Compensation of persist_pending: PENDING -> FAILED. Nothing to do when the
        appointment was never persisted or is already FAILED."""
        if await self._store.get(change.appointment_id) is not None:
            await self._mark(change, AppointmentStatus.FAILED)

    async def _mark(self, change: StatusChange, target: AppointmentStatus) -> Appointment | None:
        event_id = event_id_for(change.idempotency_key)

        async def to_target(current: Appointment) -> Reapplied:
            # A retry whose first attempt committed. While the transition is still
            # possible (PENDING), the commit recognises it by its event; once the
            # appointment moved on (confirmed, checked in, cancelled) only the event tells.
            if current.status == target:
                return current
            if (
                not can_transition(current.status, target)
                and await self._store.event(event_id) is not None
            ):
                return current
            fields = {"invoice_id": change.invoice_id} if change.invoice_id else {}
            return model.transition(
                current,
                target,
                event_id=event_id,
                now=now_utc(),
                context=in_this_run(change.caller, change.reason),
                **fields,
            )

        stored = await self._reapply(change.appointment_id, to_target)
        if stored is not None:
            log_for(change.caller).info("appointment {} is {}", stored.id, stored.status)
        return stored

    @activity.defn(name="record_invoice")
    async def record_invoice(self, record: InvoiceRecord) -> InvoiceRecorded:
        """The late invoice of a booking made while Billing was unreachable: state, event
        (appointment.invoiced) and outbox row in one transaction; the status stays.
        Idempotent: an appointment that already carries this invoice counts as recorded.
        Not recorded when the appointment no longer awaits it (cancelled, or invoiced by a
        reschedule meanwhile): the saga then voids the invoice."""

        event_id = event_id_for(record.idempotency_key)

        async def recorded(current: Appointment) -> Reapplied:
            # A retry whose first attempt committed: its event is stored, whatever
            # happened to the appointment since (a reschedule invoices anew).
            if current.invoice_id == record.invoice_id or await self._store.event(event_id):
                return current
            if not model.awaits_invoice(current):
                return None
            return model.record_invoice(
                current,
                invoice_id=record.invoice_id,
                event_id=event_id,
                now=now_utc(),
                context=in_this_run(record.caller, "invoiced once Billing was back"),
            )

        done = await self._reapply(record.appointment_id, recorded) is not None
        log_for(record.caller).info(
            "invoice {} {} on appointment {}",
            record.invoice_id,
            "recorded" if done else "not wanted any more",
            record.appointment_id,
        )
        return InvoiceRecorded(recorded=done)

    @activity.defn(name="withdraw_booking")
    async def withdraw_booking(self, withdrawal: Withdrawal) -> Withdrawn:
        """Billing refused the late invoice of a booking past its commit point: undo the
        booking as far as it still can be, by cancelling it (a SCHEDULED appointment cannot
        become FAILED). Idempotent by the event id from the key. Nothing to do when it can
        no longer be cancelled (cancelled meanwhile, or checked in): then its slot is not
        the saga's to release either."""
        event_id = event_id_for(withdrawal.idempotency_key)

        async def cancelled(current: Appointment) -> Reapplied:
            if await self._store.event(event_id) is not None:
                return current  # a retry whose first attempt committed
            if not can_transition(current.status, AppointmentStatus.CANCELLED):
                return None
            if now_utc() >= current.start:  # it has started: it stands, and so does its slot
                return None
            return model.transition(
                current,
                AppointmentStatus.CANCELLED,
                event_id=event_id,
                now=now_utc(),
                context=in_this_run(withdrawal.caller, withdrawal.reason),
            )

        done = await self._reapply(withdrawal.appointment_id, cancelled) is not None
        log_for(withdrawal.caller).info(
            "booking {} {}", withdrawal.appointment_id, "withdrawn" if done else "kept"
        )
        return Withdrawn(withdrawn=done)

    # --- cancellation ----------------------------------------------------------------------

    @activity.defn(name="prepare_cancellation")
    async def prepare_cancellation(self, ref: AppointmentRef) -> CancellationPlan:
        """A read: idempotent by nature. Refuses (409) what cannot be cancelled (its status,
        or it has started), and works out the fee by the policy agreed to at booking."""
        now = now_utc()
        async with refusals_are_final():
            appointment = await self._load(ref.appointment_id)
            ensure_transition(appointment.status, AppointmentStatus.CANCELLED)
            model.ensure_not_started(appointment, now, "cancelled")
        return CancellationPlan(
            version=appointment.version,
            patient_id=appointment.patient_id,
            hold_id=appointment.hold_id,
            invoice_id=appointment.invoice_id,
            fee_cents=appointment.cancellation_policy.fee(appointment.start, now, "cancel"),
            doctor_id=appointment.doctor_id,
            start=appointment.start,
            end=end_of(appointment.start, appointment.duration_minutes),
        )

    @activity.defn(name="mark_cancelled")
    async def mark_cancelled(self, cancel: Cancel) -> AppointmentSnapshot:
        """The cancellation's commit point. Idempotent by the event id from the key; applies
        only if the appointment is still at the version the plan was made from, so a change
        made meanwhile (say a check-in) wins and the cancellation compensates."""
        async with refusals_are_final():
            current = await self._load(cancel.appointment_id)
            event_id = event_id_for(cancel.idempotency_key)
            if await self._store.event(event_id) is not None:
                stored = current  # a retry whose first attempt committed
            else:
                # Another cancellation that won the race makes this one an illegal
                # transition (CANCELLED -> CANCELLED): refused, so its fee is voided.
                fields = {"invoice_id": cancel.fee_invoice_id} if cancel.fee_invoice_id else {}
                change = model.transition(
                    current,
                    AppointmentStatus.CANCELLED,
                    event_id=event_id,
                    now=now_utc(),
                    context=in_this_run(cancel.caller, cancel.reason),
                    **fields,
                )
                stored = await self._store.commit(
                    dataclasses.replace(change, expected_version=cancel.expected_version)
                )
        log_for(cancel.caller).info("appointment {} cancelled", stored.id)
        return snapshot(stored)

    # --- reschedule ------------------------------------------------------------------------

    @activity.defn(name="prepare_reschedule")
    async def prepare_reschedule(self, check: RescheduleCheck) -> ReschedulePlan:
        """A read: idempotent by nature. Refuses (409) an appointment that cannot move (its
        status, or it has started) and (422) a new time that breaks the booking rules;
        works out the late fee by the policy agreed to at booking."""
        now = now_utc()
        async with refusals_are_final():
            appointment = await self._load(check.appointment_id)
            if appointment.status not in RESCHEDULABLE:
                raise IllegalTransition(appointment.status.value, "rescheduled")
            model.ensure_not_started(appointment, now, "rescheduled")
            duration = check.duration_minutes or appointment.duration_minutes
            limits = BookingLimits(
                self._settings.min_duration_minutes, self._settings.max_duration_minutes
            )
            validate_requested_time(check.start, duration, now, limits)
        policy = appointment.cancellation_policy
        return ReschedulePlan(
            version=appointment.version,
            patient_id=appointment.patient_id,
            doctor_id=appointment.doctor_id,
            duration_minutes=duration,
            old_hold_id=appointment.hold_id,
            old_invoice_id=appointment.invoice_id,
            fee_cents=policy.fee(appointment.start, now, "reschedule"),
            old_start=appointment.start,
            old_end=end_of(appointment.start, appointment.duration_minutes),
        )

    @activity.defn(name="move_appointment")
    async def move_appointment(self, move: Move) -> AppointmentSnapshot:
        """The reschedule's commit point: new time, hold and invoice, SCHEDULED again, in one
        transaction. Idempotent: a retry finds the new hold already on the appointment.
        Applies only at the planned version."""
        async with refusals_are_final():
            current = await self._load(move.appointment_id)
            if current.hold_id == move.hold_id:
                stored = current  # a retry whose first attempt committed
            else:
                change = model.reschedule(
                    current,
                    start=move.start.astimezone(UTC),
                    duration_minutes=move.duration_minutes,
                    hold_id=move.hold_id,
                    invoice_id=move.invoice_id,
                    event_id=event_id_for(move.idempotency_key),
                    now=now_utc(),
                    context=in_this_run(move.caller, move.reason),
                    fee_invoice_id=move.fee_invoice_id,
                )
                stored = await self._store.commit(
                    dataclasses.replace(change, expected_version=move.expected_version)
                )
        log_for(move.caller).info("appointment {} moved to {}", stored.id, stored.start)
        return snapshot(stored)

    # --- no-show reversal ------------------------------------------------------------------

    @activity.defn(name="prepare_no_show_reversal")
    async def prepare_no_show_reversal(self, ref: AppointmentRef) -> NoShowReversalPlan:
        """A read: idempotent by nature. Refuses (409) what cannot be reversed: not a
        no-show, or one recorded more than 24 h ago."""
        async with refusals_are_final():
            appointment = await self._load(ref.appointment_id)
            model.ensure_no_show_reversible(appointment, now_utc())
        return NoShowReversalPlan(
            version=appointment.version, no_show_invoice_id=appointment.no_show_invoice_id
        )

    @activity.defn(name="reverse_no_show")
    async def reverse_no_show(self, reversal: NoShowReversal) -> AppointmentSnapshot:
        """The reversal's commit point: NO_SHOW -> CHECKED_IN or COMPLETED
        (appointment.no_show_reversed). Idempotent by the event id from the key; applies
        only at the planned version, so a change made meanwhile wins (409)."""
        async with refusals_are_final():
            current = await self._load(reversal.appointment_id)
            event_id = event_id_for(reversal.idempotency_key)
            if await self._store.event(event_id) is not None:
                stored = current  # a retry whose first attempt committed
            else:
                change = model.reverse_no_show(
                    current,
                    AppointmentStatus(reversal.target),
                    event_id=event_id,
                    now=now_utc(),
                    context=in_this_run(reversal.caller, reversal.reason),
                )
                stored = await self._store.commit(
                    dataclasses.replace(change, expected_version=reversal.expected_version)
                )
        log_for(reversal.caller).info("no-show of {} reversed: {}", stored.id, stored.status)
        return snapshot(stored)

    @activity.defn(name="record_no_show_fee_voided")
    async def record_no_show_fee_voided(self, void: NoShowFeeVoid) -> InvoiceRecorded:
        """The reversed no-show's fee was voided at Billing: appointment.no_show_fee_voided
        (the status stays). Idempotent: a retry whose first attempt committed finds its
        event. Not recorded when the appointment no longer carries this fee."""
        event_id = event_id_for(void.idempotency_key)

        async def voided(current: Appointment) -> Reapplied:
            if await self._store.event(event_id) is not None:
                return current  # a retry whose first attempt committed
            if current.no_show_invoice_id != void.invoice_id:
                return None
            return model.record_no_show_fee_voided(
                current,
                invoice_id=void.invoice_id,
                event_id=event_id,
                now=now_utc(),
                context=in_this_run(void.caller, "the reversed no-show's fee was voided"),
            )

        done = await self._reapply(void.appointment_id, voided) is not None
        log_for(void.caller).info(
            "void of no-show fee {} {} on appointment {}",
            void.invoice_id,
            "recorded" if done else "not recorded (not its fee any more)",
            void.appointment_id,
        )
        return InvoiceRecorded(recorded=done)

    def all(self) -> list[Callable[..., Any]]:
        """The activities to register on the worker."""
        return [
            self.persist_pending,
            self.mark_scheduled,
            self.mark_failed,
            self.record_invoice,
            self.withdraw_booking,
            self.prepare_cancellation,
            self.mark_cancelled,
            self.prepare_reschedule,
            self.move_appointment,
            self.prepare_no_show_reversal,
            self.reverse_no_show,
            self.record_no_show_fee_voided,
        ]
