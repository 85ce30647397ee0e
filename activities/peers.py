"""The sagas' calls to the peer services: the Patient Service (is the patient known?), the
Doctor Service (availability, slot holds) and Billing (invoices). Each activity is
idempotent, and its docstring says by what key; each maps a refusal to a final failure
and an open breaker as its step's retry policy says (``activities/errors.py``), the
compensations included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from activities.context import log_for
from activities.errors import refusals_are_final
from activities.models import (
    DeferredInvoice,
    FeeOrder,
    HeldSlot,
    HoldAction,
    InvoiceOrder,
    InvoiceRef,
    InvoiceVoid,
    IssuedInvoice,
    PatientCheck,
    SlotCheck,
    SlotReservation,
)
from application.ports import AppointmentRepository
from config import Settings
from domain import model
from domain.errors import SlotNotOffered, SlotUnavailable
from domain.rules import end_of
from domain.schedule import covers
from peers import Peers
from peers.contracts import Hold, HoldRequest, HoldStatus, InvoiceRequest, InvoiceStatus


class PeerActivities:
    def __init__(self, peers: Peers, store: AppointmentRepository, settings: Settings) -> None:
        self._peers = peers
        self._store = store
        self._settings = settings

    # --- Patient Service ---------------------------------------------------------------

    @activity.defn(name="validate_patient")
    async def validate_patient(self, check: PatientCheck) -> None:
        """A read: idempotent by nature."""
        async with refusals_are_final():
            patient = await self._peers.patients.get_patient(check.patient_id)
        log_for(check.caller).info("patient {} is known", patient.id)

    # --- Doctor Service: availability and holds ---------------------------------------------

    @activity.defn(name="check_availability")
    async def check_availability(self, check: SlotCheck) -> None:
        """A read. Refuses a slot the doctor does not offer (off duty, off the grid) or that
        is already taken, but not by a hold of the booking's own patient on this very slot:
        a check run again (a local activity replayed after a worker crash) must not refuse
        the booking because of the hold that booking took. Idempotent so: the reservation
        after it, by its key, answers the same hold, and refuses one that is not ours."""
        end = end_of(check.start, check.duration_minutes)
        async with refusals_are_final():
            doctor = await self._peers.doctors.get_doctor(check.doctor_id)
            if not doctor.calendar().offers(check.start, end):
                raise SlotNotOffered(
                    f"{doctor.name} does not offer {check.duration_minutes} minutes at "
                    f"{check.start.isoformat()} (working hours, {doctor.slot_minutes}-minute grid)"
                )
            free = await self._peers.doctors.availability(check.doctor_id, check.start, end)
            if not covers(
                [(s.start, s.end) for s in free.slots], check.start, end
            ) and not await self._held_by_the_patient(check, end):
                raise SlotUnavailable(f"{doctor.name} is not free at {check.start.isoformat()}")

    async def _held_by_the_patient(self, check: SlotCheck, end: datetime) -> bool:
        """Whether the patient holds (or has booked) exactly this slot at the Doctor Service."""
        if check.patient_id is None:
            return False
        holds = await self._peers.doctors.list_holds(doctor_id=check.doctor_id)
        return any(
            hold.patient_id == check.patient_id
            and hold.start == check.start
            and hold.end == end
            and hold.status in (HoldStatus.HELD, HoldStatus.CONFIRMED)
            for hold in holds
        )

    async def _hold(self, reservation: SlotReservation) -> Hold:
        request = HoldRequest(
            start=reservation.start,
            duration_minutes=reservation.duration_minutes,
            patient_id=reservation.patient_id,
            ttl_seconds=reservation.ttl_seconds or self._settings.slot_hold_minutes * 60,
        )
        return await self._peers.doctors.hold_slot(
            reservation.doctor_id, request, reservation.idempotency_key
        )

    @activity.defn(name="reserve_slot")
    async def reserve_slot(self, reservation: SlotReservation) -> HeldSlot:
        """Idempotent by ``reservation.idempotency_key``: the Doctor Service answers the same
        hold for the same key."""
        async with refusals_are_final():
            hold = await self._hold(reservation)
        log_for(reservation.caller).info("slot held: hold {}", hold.id)
        return HeldSlot(hold_id=hold.id, expires_at=hold.expires_at)

    @activity.defn(name="release_slot")
    async def release_slot(self, reservation: SlotReservation) -> None:
        """Compensation of reserve_slot, idempotent by the reservation's key: asking for the
        hold again with that key finds the hold even when reserve_slot's answer was lost;
        releasing a released hold changes nothing. If the slot was never held by us and
        someone else holds it now, there is nothing of ours to release."""
        async with refusals_are_final():
            try:
                hold = await self._hold(reservation)
            except (SlotUnavailable, SlotNotOffered):
                return
            await self._peers.doctors.release_hold(hold.id)
        log_for(reservation.caller).info("hold {} released", hold.id)

    @activity.defn(name="confirm_slot")
    async def confirm_slot(self, action: HoldAction) -> None:
        """Turns the hold into a booking at the Doctor Service; confirming twice is a no-op."""
        async with refusals_are_final():
            await self._peers.doctors.confirm_hold(action.hold_id)

    @activity.defn(name="release_hold")
    async def release_hold(self, action: HoldAction) -> None:
        """Releasing a released hold is a no-op at the Doctor Service."""
        async with refusals_are_final():
            await self._peers.doctors.release_hold(action.hold_id)
        log_for(action.caller).info("hold {} released", action.hold_id)

    # --- Billing -------------------------------------------------------------------------

    async def _invoice(
        self, order: InvoiceOrder, amount_cents: int, description: str
    ) -> IssuedInvoice:
        """Idempotent by ``order.idempotency_key``: Billing answers the same invoice."""
        request = InvoiceRequest(
            appointment_id=order.appointment_id,
            patient_id=order.patient_id,
            amount_cents=amount_cents,
            currency=self._settings.currency,
            description=description,
        )
        async with refusals_are_final():
            invoice = await self._peers.billing.create_invoice(request, order.idempotency_key)
        log_for(order.caller).info("invoice {} created: {}", invoice.id, description)
        return IssuedInvoice(invoice_id=invoice.id)

    @activity.defn(name="create_invoice")
    async def create_invoice(self, order: InvoiceOrder) -> IssuedInvoice:
        """The appointment's price. Idempotent by ``order.idempotency_key``."""
        price = self._settings.appointment_price_cents
        return await self._invoice(order, price, f"Appointment {order.appointment_id}")

    @activity.defn(name="issue_fee")
    async def issue_fee(self, order: FeeOrder) -> IssuedInvoice:
        """A late-change fee. Idempotent by ``order.idempotency_key``."""
        what = f"{order.what}, appointment {order.appointment_id}"
        return await self._invoice(order, order.amount_cents, what)

    @activity.defn(name="create_invoice_when_billing_is_back")
    async def create_invoice_when_billing_is_back(self, order: InvoiceOrder) -> DeferredInvoice:
        """The invoice of a booking SCHEDULED while Billing was unreachable. The saga retries
        it without limit, so an open breaker makes it wait for the breaker instead of failing
        (activities/errors.py). Each attempt first asks whether the appointment still awaits
        an invoice: a cancellation (or a reschedule, which invoices the new time) stops the
        waiting at the next attempt. Idempotent by ``order.idempotency_key``, the key of the
        booking's first attempt: an invoice whose answer was lost comes back."""
        current = await self._store.get(order.appointment_id)
        if current is None or not model.awaits_invoice(current):
            log_for(order.caller).info("appointment {} needs no invoice now", order.appointment_id)
            return DeferredInvoice()
        issued = await self.create_invoice(order)
        return DeferredInvoice(invoice_id=issued.invoice_id)

    @activity.defn(name="void_invoice")
    async def void_invoice(self, void: InvoiceVoid) -> None:
        """Compensation of create_invoice (and issue_fee). It looks the invoice up by
        appointment and key, so it also voids an invoice whose creation answer was lost;
        voiding twice is a no-op at Billing."""
        async with refusals_are_final():
            invoices = await self._peers.billing.list_invoices(appointment_id=void.appointment_id)
            for invoice in invoices:
                if (
                    invoice.idempotency_key == void.idempotency_key
                    and invoice.status == InvoiceStatus.OPEN
                ):
                    await self._peers.billing.void_invoice(invoice.id)
                    log_for(void.caller).info("invoice {} voided", invoice.id)

    @activity.defn(name="void_invoice_id")
    async def void_invoice_id(self, ref: InvoiceRef) -> None:
        """Voiding a void invoice is a no-op at Billing."""
        async with refusals_are_final():
            await self._peers.billing.void_invoice(ref.invoice_id)
        log_for(ref.caller).info("invoice {} voided", ref.invoice_id)

    def all(self) -> list[Callable[..., Any]]:
        """The activities to register on the worker."""
        return [
            self.validate_patient,
            self.check_availability,
            self.reserve_slot,
            self.release_slot,
            self.confirm_slot,
            self.release_hold,
            self.create_invoice,
            self.issue_fee,
            self.create_invoice_when_billing_is_back,
            self.void_invoice,
            self.void_invoice_id,
        ]
