"""Activities of the cancellation and reschedule sagas. The steps they share with
booking (availability, holds, invoices) are BookingActivities'; these are the rest."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from temporalio import activity

from activities.booking import REAPPLY_ATTEMPTS, event_context, log_for
from activities.errors import refusals_are_final
from activities.models import (
    AppointmentRef,
    AppointmentSnapshot,
    Cancel,
    CancellationPlan,
    FeeOrder,
    HoldAction,
    InvoiceRecord,
    InvoiceRecorded,
    InvoiceRef,
    IssuedInvoice,
    Move,
    RescheduleCheck,
    ReschedulePlan,
    Withdrawal,
    Withdrawn,
)
from config import Settings
from domain import model
from domain.clock import now_utc
from domain.errors import AppointmentNotFound, ConcurrencyConflict, IllegalTransition
from domain.events import event_id_for
from domain.model import RESCHEDULABLE, Appointment, Change
from domain.rules import BookingLimits, validate_requested_time
from domain.status import AppointmentStatus, can_transition, ensure_transition
from peers import Peers
from peers.contracts import InvoiceRequest
from persistence import AppointmentStore


class LifecycleActivities:
    def __init__(self, peers: Peers, store: AppointmentStore, settings: Settings) -> None:
        self._peers = peers
        self._store = store
        self._settings = settings

    async def _load(self, appointment_id: str) -> Appointment:
        appointment = await self._store.get(appointment_id)
        if appointment is None:
            raise AppointmentNotFound(f"no appointment {appointment_id}")
        return appointment

    @activity.defn(name="prepare_cancellation")
    async def prepare_cancellation(self, ref: AppointmentRef) -> CancellationPlan:
        """A read: idempotent by nature. Refuses (409) what cannot be cancelled, and works
        out the fee by the policy the patient agreed to at booking."""
        async with refusals_are_final():
            appointment = await self._load(ref.appointment_id)
            ensure_transition(appointment.status, AppointmentStatus.CANCELLED)
        return CancellationPlan(
            version=appointment.version,
            patient_id=appointment.patient_id,
            hold_id=appointment.hold_id,
            invoice_id=appointment.invoice_id,
            fee_cents=appointment.cancellation_policy.fee(appointment.start, now_utc()),
        )

    @activity.defn(name="issue_fee")
    async def issue_fee(self, order: FeeOrder) -> IssuedInvoice:
        """Idempotent by ``order.idempotency_key``: Billing answers the same invoice."""
        request = InvoiceRequest(
            appointment_id=order.appointment_id,
            patient_id=order.patient_id,
            amount_cents=order.amount_cents,
            currency=self._settings.currency,
            description=f"Late cancellation fee, appointment {order.appointment_id}",
        )
        async with refusals_are_final():
            invoice = await self._peers.billing.create_invoice(request, order.idempotency_key)
        log_for(order.caller).info("fee invoice {} issued", invoice.id)
        return IssuedInvoice(invoice_id=invoice.id)

    @activity.defn(name="void_invoice_id")
    async def void_invoice_id(self, ref: InvoiceRef) -> None:
        """Voiding a void invoice is a no-op at Billing."""
        async with refusals_are_final():
            await self._peers.billing.void_invoice(ref.invoice_id)
        log_for(ref.caller).info("invoice {} voided", ref.invoice_id)

    @activity.defn(name="release_hold")
    async def release_hold(self, action: HoldAction) -> None:
        """Releasing a released hold is a no-op at the Doctor Service."""
        async with refusals_are_final():
            await self._peers.doctors.release_hold(action.hold_id)
        log_for(action.caller).info("hold {} released", action.hold_id)

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
                    context=event_context(cancel.caller, cancel.reason),
                    **fields,
                )
                stored = await self._store.commit(
                    dataclasses.replace(change, expected_version=cancel.expected_version)
                )
        log_for(cancel.caller).info("appointment {} cancelled", stored.id)
        return AppointmentSnapshot(
            appointment_id=stored.id, status=stored.status, version=stored.version
        )

    @activity.defn(name="prepare_reschedule")
    async def prepare_reschedule(self, check: RescheduleCheck) -> ReschedulePlan:
        """A read: idempotent by nature. Refuses (409) an appointment that cannot move and
        (422) a new time that breaks the booking rules."""
        async with refusals_are_final():
            appointment = await self._load(check.appointment_id)
            if appointment.status not in RESCHEDULABLE:
                raise IllegalTransition(appointment.status.value, "rescheduled")
            duration = check.duration_minutes or appointment.duration_minutes
            limits = BookingLimits(
                self._settings.min_duration_minutes, self._settings.max_duration_minutes
            )
            validate_requested_time(check.start, duration, now_utc(), limits)
        return ReschedulePlan(
            version=appointment.version,
            patient_id=appointment.patient_id,
            doctor_id=appointment.doctor_id,
            duration_minutes=duration,
            old_hold_id=appointment.hold_id,
            old_invoice_id=appointment.invoice_id,
        )

    @activity.defn(name="move_appointment")
    async def move_appointment(self, move: Move) -> AppointmentSnapshot:
        """The reschedule's commit point: new time, hold and invoice, SCHEDULED again, in one
        transaction. Idempotent by the event id; applies only at the planned version."""
        async with refusals_are_final():
            current = await self._load(move.appointment_id)
            event_id = event_id_for(move.idempotency_key)
            if current.hold_id == move.hold_id:
                stored = current  # a retry whose first attempt committed
            else:
                change = model.reschedule(
                    current,
                    start=move.start.astimezone(UTC),
                    duration_minutes=move.duration_minutes,
                    hold_id=move.hold_id,
                    invoice_id=move.invoice_id,
                    event_id=event_id,
                    now=now_utc(),
                    context=event_context(move.caller, move.reason),
                )
                stored = await self._store.commit(
                    dataclasses.replace(change, expected_version=move.expected_version)
                )
        log_for(move.caller).info("appointment {} moved to {}", stored.id, stored.start)
        return AppointmentSnapshot(
            appointment_id=stored.id, status=stored.status, version=stored.version
        )

    @activity.defn(name="record_invoice")
    async def record_invoice(self, record: InvoiceRecord) -> InvoiceRecorded:
        """The late invoice of a booking made while Billing was unreachable: state, event
        (appointment.invoiced) and outbox row in one transaction; the status stays.
        Idempotent: an appointment that already carries this invoice counts as recorded.
        Not recorded when the appointment no longer awaits it (cancelled, or invoiced by a
        reschedule meanwhile): the saga then voids the invoice."""

        async def change(current: Appointment) -> Change | bool:
            if current.invoice_id == record.invoice_id:
                return True  # a retry whose first attempt committed
            if not model.awaits_invoice(current):
                return False
            return model.record_invoice(
                current,
                invoice_id=record.invoice_id,
                event_id=event_id_for(record.idempotency_key),
                now=now_utc(),
                context=event_context(record.caller, "invoiced once Billing was back"),
            )

        recorded = await self._apply(record.appointment_id, change)
        log_for(record.caller).info(
            "invoice {} {} on appointment {}",
            record.invoice_id,
            "recorded" if recorded else "not wanted any more",
            record.appointment_id,
        )
        return InvoiceRecorded(recorded=recorded)

    @activity.defn(name="withdraw_booking")
    async def withdraw_booking(self, withdrawal: Withdrawal) -> Withdrawn:
        """Billing refused the late invoice of a booking past its commit point: undo the
        booking as far as it still can be, by cancelling it (a SCHEDULED appointment cannot
        become FAILED). Idempotent by the event id from the key. Nothing to do when it can
        no longer be cancelled (cancelled meanwhile, or checked in): then its slot is not
        the saga's to release either."""
        event_id = event_id_for(withdrawal.idempotency_key)

        async def change(current: Appointment) -> Change | bool:
            if await self._store.event(event_id) is not None:
                return True  # a retry whose first attempt committed
            if not can_transition(current.status, AppointmentStatus.CANCELLED):
                return False
            return model.transition(
                current,
                AppointmentStatus.CANCELLED,
                event_id=event_id,
                now=now_utc(),
                context=event_context(withdrawal.caller, withdrawal.reason),
            )

        withdrawn = await self._apply(withdrawal.appointment_id, change)
        log_for(withdrawal.caller).info(
            "booking {} {}", withdrawal.appointment_id, "withdrawn" if withdrawn else "kept"
        )
        return Withdrawn(withdrawn=withdrawn)

    async def _apply(
        self,
        appointment_id: str,
        change_of: Callable[[Appointment], Awaitable[Change | bool]],
    ) -> bool:
        """Commit the change ``change_of`` makes of the current state; it answers True for
        "already applied" and False for "nothing to do". An edit racing our write: read
        again and reapply. These steps are retried until done, so a conflict that persists
        stays a transient fault (retried), never a refusal."""
        async with refusals_are_final():
            for _ in range(REAPPLY_ATTEMPTS):
                change = await change_of(await self._load(appointment_id))
                if isinstance(change, bool):
                    return change
                try:
                    await self._store.commit(change)
                    return True
                except ConcurrencyConflict:
                    continue
        raise RuntimeError(f"appointment {appointment_id} kept changing; trying again")

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.prepare_cancellation,
            self.issue_fee,
            self.void_invoice_id,
            self.release_hold,
            self.mark_cancelled,
            self.prepare_reschedule,
            self.move_appointment,
            self.record_invoice,
            self.withdraw_booking,
        ]
