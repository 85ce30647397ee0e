"""NoShowReversalWorkflow: staff say the patient did come after all.

    plan (a no-show, recorded less than 24 h ago?)
    -> CHECKED_IN or COMPLETED, as staff say, at the planned version   <- the commit point
    -> void the no-show fee at Billing                  (retried until done)
    -> record the void: appointment.no_show_fee_voided  (retried until done)

Nothing before the commit point changes anything, so a refusal (not a no-show, the 24 h
window closed, a change made meanwhile) leaves the appointment as it was, with nothing to
undo. After it, the void is forward only, like a cancellation's let-go: Billing down is
waited out. Billing refusing the void for good (say the fee was paid meanwhile) leaves the
run to an operator (NeedsAttention): the reversal stands, and no void is recorded that did
not happen. The appointment's journey is not told: it ended at NO_SHOW."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.appointments import AppointmentActivities
    from activities.models import InvoiceRef
    from activities.peers import PeerActivities
    from domain.events import EventContext
    from workflows.attention import needs_attention, refused_for_good
    from workflows.contracts import no_show_reversal
    from workflows.contracts.no_show_reversal import (
        NoShowReversalOutcome,
        NoShowReversalRequest,
        NoShowReversalResult,
    )
    from workflows.policies import DB_RETRY
    from workflows.saga import Compensations, DecidingSaga, run_saga
    from workflows.step_inputs import NoShowReversalSteps
    from workflows.steps import forward, until_done


@workflow.defn(name=no_show_reversal.WORKFLOW)
class NoShowReversalWorkflow(DecidingSaga):
    @workflow.run
    async def run(self, request: NoShowReversalRequest) -> NoShowReversalResult:
        return await run_saga(
            lambda compensations: self._reverse(request, compensations), self._decide
        )

    async def _reverse(
        self, r: NoShowReversalRequest, compensations: Compensations
    ) -> NoShowReversalOutcome:
        steps = NoShowReversalSteps(r, workflow.info().workflow_id)
        plan = await forward(
            AppointmentActivities.prepare_no_show_reversal,
            steps.plan(),
            retry_policy=DB_RETRY,
            local=False,
        )
        changed = await forward(
            AppointmentActivities.reverse_no_show,
            steps.reverse(plan),
            retry_policy=DB_RETRY,
            local=False,
        )

        compensations.commit()  # past the commit point: forward only, until done
        fee, voided = plan.no_show_invoice_id, None
        if fee is not None and await _void(fee, r.caller):
            await until_done(AppointmentActivities.record_no_show_fee_voided, steps.fee_voided(fee))
            voided = fee
        return NoShowReversalOutcome(
            appointment_id=r.appointment_id, status=changed.status, voided_invoice_id=voided
        )


async def _void(invoice_id: str, caller: EventContext) -> bool:
    """Void the fee at Billing, retried until done ("already void" counts as done);
    False when Billing refuses it for good, which is left to an operator."""
    ref = InvoiceRef(invoice_id=invoice_id, caller=caller)
    try:
        await until_done(PeerActivities.void_invoice_id, ref)
    except ActivityError as error:
        if not refused_for_good(error):
            raise
        needs_attention("void_no_show_fee", error)
        return False
    return True
