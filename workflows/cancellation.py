"""CancellationWorkflow: cancel an appointment across the services.

    plan (status allows it? the fee by the booked policy)
    -> issue the late fee, if due            (compensation: void the fee)
    -> mark CANCELLED at the planned version  <- the commit point
    -> void the original invoice, release the slot   (retried until done)
    -> offer the freed slot to the waitlist           (never fails the cancellation)

Everything before the commit point is undone if a later step fails, so a cancellation
that cannot complete (say the patient was checked in meanwhile) leaves the appointment as
it was. After it, the remaining steps are idempotent and nothing can refuse them: they
are retried until they succeed instead of being compensated, because "un-releasing" a
slot someone else may have taken cannot be made safe."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.appointments import AppointmentActivities
    from workflows.contracts import cancellation
    from workflows.contracts.cancellation import (
        CancellationOutcome,
        CancellationRequest,
        CancellationResult,
    )
    from workflows.contracts.waitlist import FreedBy
    from workflows.freed_slots import freed_slot, offer_to_the_waitlist
    from workflows.journey_news import tell_journey
    from workflows.policies import DB_RETRY
    from workflows.saga import Compensations, DecidingSaga, run_saga
    from workflows.step_inputs import CancellationSteps
    from workflows.steps import charge_fee, forward, let_go


@workflow.defn(name=cancellation.WORKFLOW)
class CancellationWorkflow(DecidingSaga):
    @workflow.run
    async def run(self, request: CancellationRequest) -> CancellationResult:
        return await run_saga(
            lambda compensations: self._cancel(request, compensations), self._decide
        )

    async def _cancel(
        self, r: CancellationRequest, compensations: Compensations
    ) -> CancellationOutcome:
        steps = CancellationSteps(r, workflow.info().workflow_id)
        plan = await forward(
            AppointmentActivities.prepare_cancellation,
            steps.plan(),
            retry_policy=DB_RETRY,
            local=False,
        )

        fee_invoice_id: str | None = None
        if plan.fee_cents:
            fee_invoice_id = await charge_fee(steps.fee(plan), compensations)

        changed = await forward(
            AppointmentActivities.mark_cancelled,
            steps.cancel(plan, fee_invoice_id),
            retry_policy=DB_RETRY,
            local=False,
        )

        compensations.commit()  # past the commit point: forward only, until done
        await tell_journey(changed)  # timers move, or the journey ends
        await let_go(plan.invoice_id, plan.hold_id, r.caller)
        await offer_to_the_waitlist(
            freed_slot(plan.doctor_id, plan.start, plan.end, FreedBy.CANCELLATION, r.appointment_id)
        )
        return CancellationOutcome(
            appointment_id=r.appointment_id,
            status="CANCELLED",
            fee_cents=plan.fee_cents,
            fee_invoice_id=fee_invoice_id,
        )
