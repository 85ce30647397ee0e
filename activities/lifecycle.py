"""Activities of the cancellation and reschedule sagas. The steps they share with
booking (availability, holds, invoices) are BookingActivities'; these are the rest."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC
from typing import Any

from temporalio import activity

from activities.booking import event_context, log_for
from activities.errors import refusals_are_final
from activities.models import (
    AppointmentRef,
    AppointmentSnapshot,
    Cancel,
    CancellationPlan,
    FeeOrder,
    HoldAction,
    InvoiceRef,
    IssuedInvoice,
    Move,
    RescheduleCheck,
    ReschedulePlan,
)
from config import Settings
from domain import model
from domain.errors import AppointmentNotFound, IllegalTransition
from domain.events import event_id_for
from domain.model import RESCHEDULABLE, Appointment
from domain.rules import BookingLimits, validate_requested_time
from domain.status import AppointmentStatus, ensure_transition
from peers import Peers
from peers.contracts import InvoiceRequest
from persistence import AppointmentStore
from persistence.mapping import now_utc


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

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.prepare_cancellation,
            self.issue_fee,
            self.void_invoice_id,
            self.release_hold,
            self.mark_cancelled,
            self.prepare_reschedule,
            self.move_appointment,
        ]
