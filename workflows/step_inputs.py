"""Every saga's step inputs, built from the saga's request and its run's workflow id
(``key``), from which every idempotency key derives: a step retried, replayed or run again
on another worker asks the peers and the store with the same key, and gets the same
answer. The sagas, and bench/'s inline baseline of the booking, build them here."""

from __future__ import annotations

from dataclasses import dataclass

from activities.models import (
    AppointmentRef,
    Cancel,
    CancellationPlan,
    FeeOrder,
    HeldSlot,
    InvoiceOrder,
    IssuedInvoice,
    Move,
    NewAppointment,
    NoShowFeeVoid,
    NoShowReversal,
    NoShowReversalPlan,
    PatientCheck,
    RescheduleCheck,
    ReschedulePlan,
    SlotCheck,
    SlotReservation,
    StatusChange,
)
from workflows.contracts.booking import BookingRequest
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.no_show_reversal import NoShowReversalRequest
from workflows.contracts.reschedule import RescheduleRequest


@dataclass(frozen=True)
class BookingSteps:
    request: BookingRequest
    key: str

    def patient_check(self) -> PatientCheck:
        return PatientCheck(patient_id=self.request.patient_id, caller=self.request.caller)

    def slot_check(self) -> SlotCheck:
        r = self.request
        return SlotCheck(
            doctor_id=r.doctor_id,
            start=r.start,
            duration_minutes=r.duration_minutes,
            caller=r.caller,
            patient_id=r.patient_id,
        )

    def reservation(self) -> SlotReservation:
        r = self.request
        return SlotReservation(
            doctor_id=r.doctor_id,
            patient_id=r.patient_id,
            start=r.start,
            duration_minutes=r.duration_minutes,
            idempotency_key=f"{self.key}/hold",
            caller=r.caller,
        )

    def new_appointment(self, hold_id: str) -> NewAppointment:
        r = self.request
        return NewAppointment(
            appointment_id=r.appointment_id,
            patient_id=r.patient_id,
            doctor_id=r.doctor_id,
            start=r.start,
            duration_minutes=r.duration_minutes,
            reason=r.reason,
            hold_id=hold_id,
            idempotency_key=f"{self.key}/pending",
            caller=r.caller,
            over_patient_cap=r.over_patient_cap,
        )

    def invoice_order(self) -> InvoiceOrder:
        """The booking's invoice, by one key for every attempt: Billing answers the same one."""
        r = self.request
        return InvoiceOrder(
            appointment_id=r.appointment_id,
            patient_id=r.patient_id,
            idempotency_key=f"{self.key}/invoice",
            caller=r.caller,
        )

    def scheduled(self, invoice: IssuedInvoice | None) -> StatusChange:
        return StatusChange(
            appointment_id=self.request.appointment_id,
            idempotency_key=f"{self.key}/scheduled",
            reason="booking saga completed"
            if invoice
            else "booked while Billing was unreachable: invoiced once it is back",
            invoice_id=invoice.invoice_id if invoice else None,
            caller=self.request.caller,
        )

    def failed(self) -> StatusChange:
        return StatusChange(
            appointment_id=self.request.appointment_id,
            idempotency_key=f"{self.key}/failed",
            reason="booking saga compensated",
            caller=self.request.caller,
        )


@dataclass(frozen=True)
class CancellationSteps:
    request: CancellationRequest
    key: str

    def plan(self) -> AppointmentRef:
        r = self.request
        return AppointmentRef(appointment_id=r.appointment_id, caller=r.caller)

    def fee(self, plan: CancellationPlan) -> FeeOrder:
        return FeeOrder(
            appointment_id=self.request.appointment_id,
            patient_id=plan.patient_id,
            amount_cents=plan.fee_cents,
            idempotency_key=f"{self.key}/fee",
            caller=self.request.caller,
        )

    def cancel(self, plan: CancellationPlan, fee_invoice_id: str | None) -> Cancel:
        r = self.request
        return Cancel(
            appointment_id=r.appointment_id,
            expected_version=plan.version,
            reason=r.reason,
            fee_invoice_id=fee_invoice_id,
            idempotency_key=f"{self.key}/cancelled",
            caller=r.caller,
        )


@dataclass(frozen=True)
class RescheduleSteps:
    request: RescheduleRequest
    key: str

    def check(self) -> RescheduleCheck:
        r = self.request
        return RescheduleCheck(
            appointment_id=r.appointment_id,
            start=r.start,
            duration_minutes=r.duration_minutes,
            caller=r.caller,
        )

    def slot_check(self, plan: ReschedulePlan) -> SlotCheck:
        r = self.request
        return SlotCheck(
            doctor_id=plan.doctor_id,
            start=r.start,
            duration_minutes=plan.duration_minutes,
            caller=r.caller,
        )

    def reservation(self, plan: ReschedulePlan) -> SlotReservation:
        r = self.request
        return SlotReservation(
            doctor_id=plan.doctor_id,
            patient_id=plan.patient_id,
            start=r.start,
            duration_minutes=plan.duration_minutes,
            idempotency_key=f"{self.key}/hold",
            caller=r.caller,
        )

    def invoice_order(self, plan: ReschedulePlan) -> InvoiceOrder:
        return InvoiceOrder(
            appointment_id=self.request.appointment_id,
            patient_id=plan.patient_id,
            idempotency_key=f"{self.key}/invoice",
            caller=self.request.caller,
        )

    def fee(self, plan: ReschedulePlan) -> FeeOrder:
        """A late move's fee: the same key scheme as a cancellation's."""
        return FeeOrder(
            appointment_id=self.request.appointment_id,
            patient_id=plan.patient_id,
            amount_cents=plan.fee_cents,
            what="Late reschedule fee",
            idempotency_key=f"{self.key}/fee",
            caller=self.request.caller,
        )

    def move(
        self,
        plan: ReschedulePlan,
        held: HeldSlot,
        invoice: IssuedInvoice,
        fee_invoice_id: str | None = None,
    ) -> Move:
        r = self.request
        return Move(
            appointment_id=r.appointment_id,
            expected_version=plan.version,
            start=r.start,
            duration_minutes=plan.duration_minutes,
            hold_id=held.hold_id,
            invoice_id=invoice.invoice_id,
            reason=r.reason,
            idempotency_key=f"{self.key}/moved",
            caller=r.caller,
            fee_invoice_id=fee_invoice_id,
        )


@dataclass(frozen=True)
class NoShowReversalSteps:
    request: NoShowReversalRequest
    key: str

    def plan(self) -> AppointmentRef:
        r = self.request
        return AppointmentRef(appointment_id=r.appointment_id, caller=r.caller)

    def reverse(self, plan: NoShowReversalPlan) -> NoShowReversal:
        r = self.request
        return NoShowReversal(
            appointment_id=r.appointment_id,
            expected_version=plan.version,
            target=r.target,
            reason=r.reason,
            idempotency_key=f"{self.key}/reversed",
            caller=r.caller,
        )

    def fee_voided(self, invoice_id: str) -> NoShowFeeVoid:
        r = self.request
        return NoShowFeeVoid(
            appointment_id=r.appointment_id,
            invoice_id=invoice_id,
            idempotency_key=f"{self.key}/fee-voided",
            caller=r.caller,
        )
