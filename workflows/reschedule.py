"""RescheduleWorkflow: move an appointment to a new time across the services.

    plan (may it move? is the new time valid? is the move late?)
    -> charge the late fee, if due            (compensation: void the fee)
    -> check the new slot, hold it             (compensation: release the new hold)
    -> [invoice the new time                   (compensation: void the new invoice)
    -> confirm the new hold]                   racing the new hold's expiry
    -> move the appointment at the planned version   <- the commit point
    -> void the old invoice, release the old slot     (retried until done)
    -> offer the old slot to the waitlist             (never fails the move)

The new slot is held first, as the design asks; if anything before the move fails, the
new hold and invoice are undone and the original appointment is untouched. After the
move, the old slot and invoice are let go, forward only (see CancellationWorkflow)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.appointments import AppointmentActivities
    from activities.peers import PeerActivities
    from workflows.contracts import reschedule
    from workflows.contracts.reschedule import (
        RescheduleOutcome,
        RescheduleRequest,
        RescheduleResult,
    )
    from workflows.contracts.waitlist import FreedBy
    from workflows.freed_slots import freed_slot, offer_to_the_waitlist
    from workflows.hold import hold_invoice_confirm
    from workflows.journey_news import tell_journey
    from workflows.policies import DB_RETRY, PEER_RETRY
    from workflows.saga import Compensations, DecidingSaga, run_saga
    from workflows.step_inputs import RescheduleSteps
    from workflows.steps import charge_fee, forward, let_go


LATE_RESCHEDULE_FEE = "late-reschedule-fee"


@workflow.defn(name=reschedule.WORKFLOW)
class RescheduleWorkflow(DecidingSaga):
    @workflow.run
    async def run(self, request: RescheduleRequest) -> RescheduleResult:
        return await run_saga(
            lambda compensations: self._move(request, compensations), self._decide
        )

    async def _move(self, r: RescheduleRequest, compensations: Compensations) -> RescheduleOutcome:
        steps = RescheduleSteps(r, workflow.info().workflow_id)
        plan = await forward(
            AppointmentActivities.prepare_reschedule,
            steps.check(),
            retry_policy=DB_RETRY,
            local=False,
        )
        # A late move is a late change: it carries the fee of the policy captured at
        # booking (runs from before the rule never see a fee here, and replay without it).
        fee_invoice_id: str | None = None
        if plan.fee_cents and workflow.patched(LATE_RESCHEDULE_FEE):
            fee_invoice_id = await charge_fee(steps.fee(plan), compensations)
        await forward(
            PeerActivities.check_availability,
            steps.slot_check(plan),
            retry_policy=PEER_RETRY,
            local=False,
        )
        held, invoice = await hold_invoice_confirm(
            steps.reservation(plan), steps.invoice_order(plan), compensations, local=False
        )
        if invoice is None:  # never: under the policy "compensate" no invoice is a failure
            raise ApplicationError("no invoice for the new time", non_retryable=True)

        changed = await forward(
            AppointmentActivities.move_appointment,
            steps.move(plan, held, invoice, fee_invoice_id),
            retry_policy=DB_RETRY,
            local=False,
        )

        compensations.commit()  # past the commit point: forward only, until done
        await tell_journey(changed)  # timers move, or the journey ends
        await let_go(plan.old_invoice_id, plan.old_hold_id, r.caller)
        old = freed_slot(
            plan.doctor_id, plan.old_start, plan.old_end, FreedBy.RESCHEDULE, r.appointment_id
        )
        await offer_to_the_waitlist(old)
        return RescheduleOutcome(
            appointment_id=r.appointment_id,
            status="SCHEDULED",
            hold_id=held.hold_id,
            invoice_id=invoice.invoice_id,
        )
