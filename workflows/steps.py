"""How a saga runs its steps: forward, undone, and let go after the commit point."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.models import FeeOrder, HoldAction, InvoiceRef
    from activities.peers import PeerActivities
    from domain.events import EventContext
    from workflows.attention import left_to_an_operator, needs_attention
    from workflows.policies import PEER_RETRY, STEP_TIMEOUT, UNTIL_DONE
    from workflows.saga import Compensations

A = TypeVar("A")
R = TypeVar("R")


async def forward(
    step: Callable[[Any, A], Awaitable[R]], arg: A, retry_policy: RetryPolicy, local: bool
) -> R:
    """A saga's forward step: short, idempotent by its key, and refused or retried by its
    policy. ``local`` runs it as a *local* activity, inside the workflow task on the worker
    that runs the saga: no round trip through the task queue and no history events of its
    own (one marker), which is most of what a regular activity costs on the critical path.
    The guarantees stay those of a regular activity: a worker that dies mid-step leaves the
    workflow task to another worker, which runs the step again, and the step's idempotency
    key makes that second run answer what the first did.

    Compensations, and steps that may wait long (invoicing once Billing is back), stay
    regular activities: an operator sees them pending in the Web UI."""
    if local:
        return await workflow.execute_local_activity_method(
            step, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=retry_policy
        )
    return await workflow.execute_activity_method(
        step, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=retry_policy
    )


async def until_done(step: Callable[[Any, A], Awaitable[R]], arg: A) -> R:
    """A step that must finish (a compensation, a step after the commit point): a regular
    activity, retried without limit; an open breaker makes it wait for the breaker."""
    return await workflow.execute_activity_method(
        step, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=UNTIL_DONE
    )


def undo(step: Callable[[Any, A], Awaitable[Any]], arg: A) -> Callable[[], Awaitable[None]]:
    """A compensation to register (``Compensations.add``) before its step runs."""

    async def compensate() -> None:
        await until_done(step, arg)

    return compensate


async def charge_fee(fee: FeeOrder, compensations: Compensations) -> str:
    """A late-change fee, before the change's commit point: its void is registered before
    the step, by key, so a fee created while its answer was lost is voided too."""
    compensations.add("void_fee", undo(PeerActivities.void_invoice, fee.voiding()))
    issued = await forward(PeerActivities.issue_fee, fee, PEER_RETRY, local=False)
    return issued.invoice_id


async def let_go(invoice_id: str | None, hold_id: str | None, caller: EventContext) -> None:
    """After a commit point: void the invoice and release the slot the appointment no
    longer has. Both are idempotent ("already void", "already released" and "unknown"
    count as done), so they are retried until done, never compensated. One refused for
    good (Billing will not void a paid invoice) is left to an operator: the change stands."""
    if invoice_id:
        ref = InvoiceRef(invoice_id=invoice_id, caller=caller)
        await _after_the_commit("void_invoice_id", PeerActivities.void_invoice_id, ref)
    if hold_id:
        action = HoldAction(hold_id=hold_id, caller=caller)
        await _after_the_commit("release_hold", PeerActivities.release_hold, action)


async def _after_the_commit(name: str, step: Callable[[Any, A], Awaitable[Any]], arg: A) -> None:
    try:
        await until_done(step, arg)
    except ActivityError as error:
        if not left_to_an_operator(error):
            raise
        needs_attention(name, error)
