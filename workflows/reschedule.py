"""RescheduleWorkflow: move an appointment to a new time across the services.

    plan (may it move? is the new time valid?)
    -> check the new slot, hold it             (compensation: release the new hold)
    -> [invoice the new time                   (compensation: void the new invoice)
    -> confirm the new hold]                   racing the new hold's expiry
    -> move the appointment at the planned version   <- the commit point
    -> void the old invoice, release the old slot     (retried until done)

The new slot is held first, as the design asks; if anything before the move fails, the
new hold and invoice are undone and the original appointment is untouched. After the
move, the old slot and invoice are let go, forward only (see CancellationWorkflow)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from activities.lifecycle import LifecycleActivities
    from activities.models import (
        HeldSlot,
        HoldAction,
        InvoiceOrder,
        InvoiceVoid,
        IssuedInvoice,
        Move,
        RescheduleCheck,
        SlotCheck,
        SlotReservation,
    )
    from domain.events import EventContext
    from workflows.hold import before_the_hold_expires
    from workflows.policies import DB_RETRY, PEER_RETRY, STEP_TIMEOUT, UNTIL_DONE
    from workflows.saga import Compensations, DecidingSaga, run_saga
    from workflows.steps import let_go


class RescheduleRequest(BaseModel):
    appointment_id: str
    start: AwareDatetime
    duration_minutes: int | None = None
    reason: str | None = None
    fingerprint: str
    caller: EventContext


class RescheduleOutcome(BaseModel):
    appointment_id: str
    status: str
    hold_id: str
    invoice_id: str


@workflow.defn
class RescheduleWorkflow(DecidingSaga):
    @workflow.run
    async def run(self, request: RescheduleRequest) -> RescheduleOutcome:
        return await run_saga(
            lambda compensations: self._move(request, compensations), self._decide
        )

    async def _move(self, r: RescheduleRequest, compensations: Compensations) -> RescheduleOutcome:
        key = workflow.info().workflow_id
        booking, lifecycle = BookingActivities, LifecycleActivities
        plan = await workflow.execute_activity_method(
            lifecycle.prepare_reschedule,
            RescheduleCheck(
                appointment_id=r.appointment_id,
                start=r.start,
                duration_minutes=r.duration_minutes,
                caller=r.caller,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        await workflow.execute_activity_method(
            booking.check_availability,
            SlotCheck(
                doctor_id=plan.doctor_id,
                start=r.start,
                duration_minutes=plan.duration_minutes,
                caller=r.caller,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=PEER_RETRY,
        )

        reservation = SlotReservation(
            doctor_id=plan.doctor_id,
            patient_id=plan.patient_id,
            start=r.start,
            duration_minutes=plan.duration_minutes,
            idempotency_key=f"{key}/hold",
            caller=r.caller,
        )
        compensations.add(
            "release_new_slot",
            lambda: workflow.execute_activity_method(
                booking.release_slot,
                reservation,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=UNTIL_DONE,
            ),
        )
        held = await workflow.execute_activity_method(
            booking.reserve_slot,
            reservation,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=PEER_RETRY,
        )

        invoice = await before_the_hold_expires(
            held, lambda: self._invoice_and_confirm(r, plan.patient_id, held, compensations)
        )

        await workflow.execute_activity_method(
            lifecycle.move_appointment,
            Move(
                appointment_id=r.appointment_id,
                expected_version=plan.version,
                start=r.start,
                duration_minutes=plan.duration_minutes,
                hold_id=held.hold_id,
                invoice_id=invoice.invoice_id,
                reason=r.reason,
                idempotency_key=f"{key}/moved",
                caller=r.caller,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )

        compensations.commit()  # past the commit point: forward only, until done
        await let_go(plan.old_invoice_id, plan.old_hold_id, r.caller)
        return RescheduleOutcome(
            appointment_id=r.appointment_id,
            status="SCHEDULED",
            hold_id=held.hold_id,
            invoice_id=invoice.invoice_id,
        )

    async def _invoice_and_confirm(
        self, r: RescheduleRequest, patient_id: str, held: HeldSlot, compensations: Compensations
    ) -> IssuedInvoice:
        """The steps between taking the new hold and confirming it, which race its expiry."""
        key = workflow.info().workflow_id
        booking = BookingActivities
        order = InvoiceOrder(
            appointment_id=r.appointment_id,
            patient_id=patient_id,
            idempotency_key=f"{key}/invoice",
            caller=r.caller,
        )
        void_new = InvoiceVoid(
            appointment_id=r.appointment_id, idempotency_key=order.idempotency_key, caller=r.caller
        )
        compensations.add(
            "void_new_invoice",
            lambda: workflow.execute_activity_method(
                booking.void_invoice,
                void_new,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=UNTIL_DONE,
            ),
            alongside=True,
        )
        invoice = await workflow.execute_activity_method(
            booking.create_invoice,
            order,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=PEER_RETRY,
        )
        await workflow.execute_activity_method(
            booking.confirm_slot,
            HoldAction(hold_id=held.hold_id, caller=r.caller),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=PEER_RETRY,
        )
        return invoice
