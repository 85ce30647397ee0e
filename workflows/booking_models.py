"""What a booking saga is started with (``BookingRequest``), shows while it runs
(``BookingProgress``) and ends with (``BookingOutcome``).

Apart from ``workflows/booking.py`` on purpose: the sandbox runs a workflow's own module
afresh for every run, and building these pydantic models each time was a measurable part
of the worker's CPU per booking (bench/). Imported passed through, they are built once."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from activities.models import (
    InvoiceOrder,
    IssuedInvoice,
    NewAppointment,
    PatientCheck,
    SlotCheck,
    SlotReservation,
    StatusChange,
)
from domain.events import EventContext
from workflows.invoicing import BillingOutagePolicy
from workflows.search_attributes import BookingStatus


class BookingRequest(BaseModel):
    appointment_id: str
    patient_id: str
    doctor_id: str
    start: AwareDatetime
    duration_minutes: int
    reason: str | None = None
    idempotency_key: str
    fingerprint: str  # of the request body: the same key with another body is refused
    caller: EventContext
    # Captured from the settings when the run starts, so it holds for the run's whole life
    # (the defaults are what runs started before these fields existed did).
    billing_outage_policy: BillingOutagePolicy = "compensate"
    billing_retry_max_interval_seconds: float = 60.0
    # Forward steps as local activities (settings.saga_local_steps). False for runs started
    # before the field existed: they replay with the regular activities they ran.
    local_steps: bool = False

    # The input of each step, from the request and the run's workflow id (``key``), which
    # every idempotency key derives from. The saga and bench/'s inline baseline both build
    # them here, so the baseline does exactly the saga's work.

    def patient_check(self) -> PatientCheck:
        return PatientCheck(patient_id=self.patient_id, caller=self.caller)

    def slot_check(self) -> SlotCheck:
        return SlotCheck(
            doctor_id=self.doctor_id,
            start=self.start,
            duration_minutes=self.duration_minutes,
            caller=self.caller,
            patient_id=self.patient_id,
        )

    def reservation(self, key: str) -> SlotReservation:
        return SlotReservation(
            doctor_id=self.doctor_id,
            patient_id=self.patient_id,
            start=self.start,
            duration_minutes=self.duration_minutes,
            idempotency_key=f"{key}/hold",
            caller=self.caller,
        )

    def new_appointment(self, key: str, hold_id: str) -> NewAppointment:
        return NewAppointment(
            appointment_id=self.appointment_id,
            patient_id=self.patient_id,
            doctor_id=self.doctor_id,
            start=self.start,
            duration_minutes=self.duration_minutes,
            reason=self.reason,
            hold_id=hold_id,
            idempotency_key=f"{key}/pending",
            caller=self.caller,
        )

    def invoice_order(self, key: str) -> InvoiceOrder:
        """The booking's invoice, by one key for every attempt: Billing answers the same one."""
        return InvoiceOrder(
            appointment_id=self.appointment_id,
            patient_id=self.patient_id,
            idempotency_key=f"{key}/invoice",
            caller=self.caller,
        )

    def scheduled(self, key: str, invoice: IssuedInvoice | None) -> StatusChange:
        return StatusChange(
            appointment_id=self.appointment_id,
            idempotency_key=f"{key}/scheduled",
            reason="booking saga completed"
            if invoice
            else "booked while Billing was unreachable: invoiced once it is back",
            invoice_id=invoice.invoice_id if invoice else None,
            caller=self.caller,
        )

    def failed(self, key: str) -> StatusChange:
        return StatusChange(
            appointment_id=self.appointment_id,
            idempotency_key=f"{key}/failed",
            reason="booking saga compensated",
            caller=self.caller,
        )


class BookingProgress(BaseModel):
    appointment_id: str
    fingerprint: str
    status: BookingStatus
    step: str
    failed_step: str | None = None
    error_type: str | None = None
    error_detail: str | None = None


class BookingOutcome(BaseModel):
    appointment_id: str
    status: str
    hold_id: str
    invoice_id: str | None  # None: booked while Billing was down, then cancelled uninvoiced
