"""CancellationWorkflow: cancel an appointment across the services.

    plan (status allows it? the fee by the booked policy)
    -> issue the late fee, if due            (compensation: void the fee)
    -> mark CANCELLED at the planned version  <- the commit point
    -> void the original invoice, release the slot   (retried until done)

Everything before the commit point is undone if a later step fails, so a cancellation
that cannot complete (say the patient was checked in meanwhile) leaves the appointment as
it was. After it, the remaining steps are idempotent and nothing can refuse them: they
are retried until they succeed instead of being compensated, because "un-releasing" a
slot someone else may have taken cannot be made safe."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from activities.lifecycle import LifecycleActivities
    from activities.models import (
        AppointmentRef,
        Cancel,
        FeeOrder,
        InvoiceVoid,
    )
    from domain.events import EventContext
    from workflows.policies import DB_RETRY, PEER_RETRY, STEP_TIMEOUT, UNTIL_DONE
    from workflows.saga import Compensations, DecidingSaga, run_saga
    from workflows.steps import let_go


class CancellationRequest(BaseModel):
    appointment_id: str
    reason: str | None = None
    fingerprint: str
    caller: EventContext


class CancellationOutcome(BaseModel):
    appointment_id: str
    status: str
    fee_cents: int
    fee_invoice_id: str | None = None


@workflow.defn
class CancellationWorkflow(DecidingSaga):
    @workflow.run
    async def run(self, request: CancellationRequest) -> CancellationOutcome:
        return await run_saga(
            lambda compensations: self._cancel(request, compensations), self._decide
        )

    async def _cancel(
        self, r: CancellationRequest, compensations: Compensations
    ) -> CancellationOutcome:
        key = workflow.info().workflow_id
        acts = LifecycleActivities
        plan = await workflow.execute_activity_method(
            acts.prepare_cancellation,
            AppointmentRef(appointment_id=r.appointment_id, caller=r.caller),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )

        fee_invoice_id: str | None = None
        if plan.fee_cents:
            fee = FeeOrder(
                appointment_id=r.appointment_id,
                patient_id=plan.patient_id,
                amount_cents=plan.fee_cents,
                idempotency_key=f"{key}/fee",
                caller=r.caller,
            )
            # Registered before the step, by key: the fee may be created even if the answer
            # is lost, and voiding by key finds it then too.
            void_fee = InvoiceVoid(
                appointment_id=r.appointment_id,
                idempotency_key=fee.idempotency_key,
                caller=r.caller,
            )
            compensations.add(
                "void_fee",
                lambda: workflow.execute_activity_method(
                    BookingActivities.void_invoice,
                    void_fee,
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=UNTIL_DONE,
                ),
            )
            issued = await workflow.execute_activity_method(
                acts.issue_fee, fee, start_to_close_timeout=STEP_TIMEOUT, retry_policy=PEER_RETRY
            )
            fee_invoice_id = issued.invoice_id

        await workflow.execute_activity_method(
            acts.mark_cancelled,
            Cancel(
                appointment_id=r.appointment_id,
                expected_version=plan.version,
                reason=r.reason,
                fee_invoice_id=fee_invoice_id,
                idempotency_key=f"{key}/cancelled",
                caller=r.caller,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )

        compensations.commit()  # past the commit point: forward only, until done
        await let_go(plan.invoice_id, plan.hold_id, r.caller)
        return CancellationOutcome(
            appointment_id=r.appointment_id,
            status="CANCELLED",
            fee_cents=plan.fee_cents,
            fee_invoice_id=fee_invoice_id,
        )
