"""Steps more than one saga takes."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.lifecycle import LifecycleActivities
    from activities.models import Caller, HoldAction, InvoiceRef
    from workflows.policies import STEP_TIMEOUT, UNTIL_DONE


async def let_go(invoice_id: str | None, hold_id: str | None, caller: Caller) -> None:
    """After a commit point: void the invoice and release the slot the appointment no
    longer has. Both are idempotent and nothing can refuse them, so they are retried
    until done, never compensated."""
    if invoice_id:
        await workflow.execute_activity_method(
            LifecycleActivities.void_invoice_id,
            InvoiceRef(invoice_id=invoice_id, caller=caller),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=UNTIL_DONE,
        )
    if hold_id:
        await workflow.execute_activity_method(
            LifecycleActivities.release_hold,
            HoldAction(hold_id=hold_id, caller=caller),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=UNTIL_DONE,
        )
