"""The booking's invoice, and the billing outage policy. When Billing is unreachable
(its retries spent, or its breaker open), "compensate" undoes the booking, and "retry"
books it now and invoices it after the commit point:

    create the invoice, retried until Billing is back   (one pending activity in the Web UI)
    -> record it on the appointment: appointment.invoiced (state, event, outbox at once)

If the appointment stopped waiting meanwhile (cancelled, or a reschedule invoiced its new
time), nothing is created, or what was created is voided. If Billing refuses the invoice
(a business refusal, not an outage), the booking is withdrawn: cancelled, slot released."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.appointments import AppointmentActivities
    from activities.models import InvoiceOrder, InvoiceRecord, IssuedInvoice, Withdrawal
    from activities.peers import PeerActivities
    from workflows.contracts.booking import BillingOutagePolicy
    from workflows.policies import PEER_RETRY, STEP_TIMEOUT, until_billing_is_back
    from workflows.saga import is_refusal
    from workflows.steps import forward, let_go, until_done


async def invoice_now_or_later(
    order: InvoiceOrder, policy: BillingOutagePolicy, *, local: bool
) -> IssuedInvoice | None:
    """The invoice, before the commit point; None when Billing is unreachable and the
    policy is "retry". A refusal (BillingRefused) is no outage: it compensates under
    either policy, and so does a cancellation of the step (the hold expired)."""
    try:
        return await forward(
            PeerActivities.create_invoice, order, retry_policy=PEER_RETRY, local=local
        )
    # A regular activity's failure comes as an ActivityError around its cause, a local
    # activity's as the cause itself.
    except (ActivityError, ApplicationError) as error:
        outage = not (is_refusal(error) or is_cancelled_exception(error))
        if policy != "retry" or not outage:
            raise
        workflow.logger.warning("Billing unreachable: booking now, invoicing later (%s)", error)
        return None


async def invoice_when_billing_is_back(
    order: InvoiceOrder, hold_id: str, maximum_interval_seconds: float
) -> str | None:
    """The invoice id once recorded on the appointment; None when the appointment no longer
    wants one. Uses the booking's own invoice key, so an invoice that Billing created while
    its answer was lost is the one that comes back."""
    key = workflow.info().workflow_id
    try:
        deferred = await workflow.execute_activity_method(
            PeerActivities.create_invoice_when_billing_is_back,
            order,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=until_billing_is_back(maximum_interval_seconds),
        )
    except ActivityError as error:
        if is_refusal(error):
            await _withdraw(order, hold_id)
        raise
    if deferred.invoice_id is None:
        return None
    recorded = await until_done(
        AppointmentActivities.record_invoice,
        InvoiceRecord(
            appointment_id=order.appointment_id,
            invoice_id=deferred.invoice_id,
            idempotency_key=f"{key}/invoiced",
            caller=order.caller,
        ),
    )
    if not recorded.recorded:  # cancelled between the invoice and its record
        await let_go(deferred.invoice_id, None, order.caller)
        return None
    return deferred.invoice_id


async def _withdraw(order: InvoiceOrder, hold_id: str) -> None:
    """Billing refused: past the commit point there is no FAILED any more, so the booking
    is cancelled and its slot released (unless it was cancelled or checked in meanwhile)."""
    withdrawn = await until_done(
        AppointmentActivities.withdraw_booking,
        Withdrawal(
            appointment_id=order.appointment_id,
            reason="Billing refused the invoice",
            idempotency_key=f"{workflow.info().workflow_id}/withdrawn",
            caller=order.caller,
        ),
    )
    if withdrawn.withdrawn:
        await let_go(None, hold_id, order.caller)
