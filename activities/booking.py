"""The booking saga's activities: every piece of its I/O. Each is idempotent, and its
docstring says by what key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from loguru import logger
from temporalio import activity

from activities.errors import refusals_are_final
from activities.models import (
    AppointmentSnapshot,
    DeferredInvoice,
    HeldSlot,
    HoldAction,
    InvoiceOrder,
    InvoiceVoid,
    IssuedInvoice,
    NewAppointment,
    PatientCheck,
    SlotCheck,
    SlotReservation,
    StatusChange,
)
from config import Settings
from domain import model
from domain.clock import now_utc
from domain.errors import ConcurrencyConflict, SlotNotOffered, SlotUnavailable
from domain.events import EventContext, event_id_for
from domain.model import Appointment
from domain.policy import CancellationPolicy
from domain.rules import end_of
from domain.schedule import WorkingInterval, covers, is_offered
from domain.status import AppointmentStatus
from peers import Peers
from peers.contracts import Hold, HoldRequest, HoldStatus, InvoiceRequest, InvoiceStatus
from persistence import AppointmentStore

if TYPE_CHECKING:
    from loguru import Logger

# How often a saga's own status change is re-read and reapplied after an edit raced it.
REAPPLY_ATTEMPTS = 3


def event_context(caller: EventContext, reason: str | None = None) -> EventContext:
    info = activity.info()
    return EventContext(
        actor=caller.actor,
        reason=reason,
        workflow_id=info.workflow_id,
        run_id=info.workflow_run_id,
        request_id=caller.request_id,
    )


def log_for(caller: EventContext) -> Logger:
    info = activity.info()
    return logger.bind(
        request_id=caller.request_id,
        workflow_id=info.workflow_id,
        activity=info.activity_type,
        attempt=info.attempt,
    )


class BookingActivities:
    def __init__(self, peers: Peers, store: AppointmentStore, settings: Settings) -> None:
        self._peers = peers
        self._store = store
        self._settings = settings

    @activity.defn(name="validate_patient")
    async def validate_patient(self, check: PatientCheck) -> None:
        """A read: idempotent by nature."""
        async with refusals_are_final():
            patient = await self._peers.patients.get_patient(check.patient_id)
        log_for(check.caller).info("patient {} is known", patient.id)

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
            hours = [WorkingInterval(h.weekday, h.start, h.end) for h in doctor.working_hours]
            if not is_offered(
                check.start, end, hours, ZoneInfo(doctor.timezone), doctor.slot_minutes
            ):
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
            ttl_seconds=self._settings.slot_hold_minutes * 60,
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

    @activity.defn(name="persist_pending")
    async def persist_pending(self, new: NewAppointment) -> AppointmentSnapshot:
        """State, event and outbox row in one transaction; idempotent by the event id
        derived from ``new.idempotency_key``."""
        change = model.request(
            appointment_id=new.appointment_id,
            event_id=event_id_for(new.idempotency_key),
            patient_id=new.patient_id,
            doctor_id=new.doctor_id,
            start=new.start.astimezone(UTC),
            duration_minutes=new.duration_minutes,
            timezone=self._settings.clinic_timezone,
            reason=new.reason,
            hold_id=new.hold_id,
            now=now_utc(),
            context=event_context(new.caller, "booking requested"),
            policy=CancellationPolicy(
                self._settings.cancellation_free_hours, self._settings.cancellation_fee_cents
            ),
        )
        async with refusals_are_final():
            stored = await self._store.commit(change)
        log_for(new.caller).info("appointment {} persisted PENDING", stored.id)
        return AppointmentSnapshot(
            appointment_id=stored.id, status=stored.status, version=stored.version
        )

    @activity.defn(name="create_invoice")
    async def create_invoice(self, order: InvoiceOrder) -> IssuedInvoice:
        """Idempotent by ``order.idempotency_key``: Billing answers the same invoice."""
        request = InvoiceRequest(
            appointment_id=order.appointment_id,
            patient_id=order.patient_id,
            amount_cents=self._settings.appointment_price_cents,
            currency=self._settings.currency,
            description=f"Appointment {order.appointment_id}",
        )
        async with refusals_are_final():
            invoice = await self._peers.billing.create_invoice(request, order.idempotency_key)
        log_for(order.caller).info("invoice {} created", invoice.id)
        return IssuedInvoice(invoice_id=invoice.id)

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
        """Compensation of create_invoice. It looks the invoice up by appointment and key,
        so it also voids an invoice whose creation answer was lost; voiding twice is a
        no-op at Billing."""
        invoices = await self._peers.billing.list_invoices(appointment_id=void.appointment_id)
        for invoice in invoices:
            if (
                invoice.idempotency_key == void.idempotency_key
                and invoice.status == InvoiceStatus.OPEN
            ):
                await self._peers.billing.void_invoice(invoice.id)
                log_for(void.caller).info("invoice {} voided", invoice.id)

    @activity.defn(name="mark_scheduled")
    async def mark_scheduled(self, change: StatusChange) -> AppointmentSnapshot:
        """PENDING -> SCHEDULED; idempotent by the event id from ``change.idempotency_key``."""
        return await self._transition(change, AppointmentStatus.SCHEDULED)

    @activity.defn(name="mark_failed")
    async def mark_failed(self, change: StatusChange) -> None:
        """Compensation of persist_pending: PENDING -> FAILED, idempotent by the event id.
        Nothing to do when the appointment was never persisted or is already FAILED."""
        current = await self._store.get(change.appointment_id)
        if current is None or current.status == AppointmentStatus.FAILED:
            return
        await self._transition(change, AppointmentStatus.FAILED)

    async def _transition(
        self, change: StatusChange, target: AppointmentStatus
    ) -> AppointmentSnapshot:
        """The saga owns a PENDING appointment, but an edit (notes) may land between our
        read and our write: then read again and reapply, rather than fail the saga."""
        async with refusals_are_final():
            for attempt in range(REAPPLY_ATTEMPTS):
                try:
                    stored = await self._apply_transition(change, target)
                    break
                except ConcurrencyConflict:
                    if attempt == REAPPLY_ATTEMPTS - 1:
                        raise
        log_for(change.caller).info("appointment {} is {}", stored.id, stored.status)
        return AppointmentSnapshot(
            appointment_id=stored.id, status=stored.status, version=stored.version
        )

    async def _apply_transition(
        self, change: StatusChange, target: AppointmentStatus
    ) -> Appointment:
        current = await self._store.get(change.appointment_id)
        if current is None:
            raise RuntimeError(f"appointment {change.appointment_id} is not stored yet")
        if current.status == target:
            return current  # a retry whose first attempt committed
        fields = {"invoice_id": change.invoice_id} if change.invoice_id else {}
        return await self._store.commit(
            model.transition(
                current,
                target,
                event_id=event_id_for(change.idempotency_key),
                now=now_utc(),
                context=event_context(change.caller, change.reason),
                **fields,
            )
        )

    def all(self) -> list[Callable[..., Any]]:
        """The activities to register on the worker."""
        return [
            self.validate_patient,
            self.check_availability,
            self.reserve_slot,
            self.release_slot,
            self.confirm_slot,
            self.persist_pending,
            self.create_invoice,
            self.create_invoice_when_billing_is_back,
            self.void_invoice,
            self.mark_scheduled,
            self.mark_failed,
        ]
