"""The sub-saga booking and reschedule share: hold the slot, invoice, confirm the hold.

A slot hold lives a few minutes at the Doctor Service. The steps between taking it and
confirming it race a durable workflow timer that fires when the hold expires: a hold is
never confirmed late, and never left to a best-effort cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import HeldSlot, HoldAction, InvoiceOrder, IssuedInvoice, SlotReservation
    from activities.peers import PeerActivities
    from workflows.contracts.booking import BillingOutagePolicy
    from workflows.invoicing import invoice_now_or_later
    from workflows.policies import PEER_RETRY
    from workflows.saga import Compensations
    from workflows.steps import forward, undo

T = TypeVar("T")
Steps = Callable[[str], None]  # told the name of each step as it begins

HOLD_EXPIRED = "HoldExpired"
# Runs started before this guard existed have no timer in their history: they replay
# (and finish) without it.
_PATCH = "hold-expiry-timer"


def _unnamed(step: str) -> None:
    """No one follows the steps by name."""


async def hold_invoice_confirm(
    reservation: SlotReservation,
    order: InvoiceOrder,
    compensations: Compensations,
    *,
    local: bool,
    billing_outage_policy: BillingOutagePolicy = "compensate",
    after_the_hold: Callable[[HeldSlot], Awaitable[None]] | None = None,
    step: Steps = _unnamed,
) -> tuple[HeldSlot, IssuedInvoice | None]:
    """Hold the slot (compensation: release it), then, racing the hold's expiry: what
    ``after_the_hold`` does (booking persists the appointment PENDING), invoice
    (compensation: void it, alongside the others) and confirm the hold, which books the
    slot at the Doctor Service. The held slot and the invoice, None when Billing was
    unreachable and the policy is to invoice later.

    Each compensation is registered before its step runs, keyed by the run, so a step whose
    answer was lost is undone too."""
    step("reserve_slot")
    compensations.add("release_slot", undo(PeerActivities.release_slot, reservation))
    held = await forward(
        PeerActivities.reserve_slot, reservation, retry_policy=PEER_RETRY, local=local
    )
    invoice = await invoice_confirm(
        held,
        order,
        compensations,
        local=local,
        billing_outage_policy=billing_outage_policy,
        after_the_hold=after_the_hold,
        step=step,
    )
    return held, invoice


async def invoice_confirm(
    held: HeldSlot,
    order: InvoiceOrder,
    compensations: Compensations,
    *,
    local: bool,
    billing_outage_policy: BillingOutagePolicy = "compensate",
    after_the_hold: Callable[[HeldSlot], Awaitable[None]] | None = None,
    step: Steps = _unnamed,
) -> IssuedInvoice | None:
    """With a hold taken (by this saga, or the waitlist's offer round that lends it its
    hold), racing its expiry: what ``after_the_hold`` does, invoice (compensation: void
    it, alongside the others) and confirm the hold. Whoever took the hold releases it on
    failure: this part registers no release."""

    async def until_confirmed() -> IssuedInvoice | None:
        if after_the_hold is not None:
            await after_the_hold(held)
        step("create_invoice")
        compensations.add(
            "void_invoice", undo(PeerActivities.void_invoice, order.voiding()), alongside=True
        )
        invoice = await invoice_now_or_later(order, billing_outage_policy, local=local)
        step("confirm_slot")
        confirm = HoldAction(hold_id=held.hold_id, caller=order.caller)
        await forward(PeerActivities.confirm_slot, confirm, retry_policy=PEER_RETRY, local=local)
        return invoice

    return await before_the_hold_expires(held, until_confirmed)


async def before_the_hold_expires(held: HeldSlot, steps: Callable[[], Awaitable[T]]) -> T:
    """Run ``steps`` against a timer that fires at the hold's ``expires_at``, as the
    Doctor Service (whose clock expires it) answered it. If the timer wins, the running
    step is cancelled and the saga fails with the non-retryable ``HoldExpired``, so its
    compensations run: release the hold, mark the appointment FAILED, void the invoice.

    Deterministic: the timer's length comes from ``workflow.now()`` and an activity's
    result, both in the history. The timer is durable: a worker that is down when it fires
    finds it fired, and compensates, when it comes back."""
    if not workflow.patched(_PATCH):
        return await steps()
    remaining = held.expires_at - workflow.now()
    if remaining <= timedelta(0):
        raise _expired(held)
    racing = asyncio.ensure_future(steps())
    try:
        await workflow.wait_condition(
            racing.done, timeout=remaining, timeout_summary="the slot hold expires"
        )
    except TimeoutError:
        await _stopped(racing)
        raise _expired(held) from None
    except BaseException:  # the run is cancelled: stop the steps, then compensate
        await _stopped(racing)
        raise
    return racing.result()


async def _stopped(racing: asyncio.Future[Any]) -> None:
    """Cancel the running step and wait until it has stopped, so no step of the race
    starts after the compensations did."""
    racing.cancel()
    try:
        await racing
    except BaseException:  # the step's cancellation; the expiry is what the saga reports
        workflow.logger.info("step cancelled: the slot hold expired or the run was cancelled")


def _expired(held: HeldSlot) -> ApplicationError:
    return ApplicationError(
        f"the slot hold {held.hold_id} expired at {held.expires_at.isoformat()} before the "
        "booking was confirmed; the slot may still be free: retry with a new Idempotency-Key",
        type=HOLD_EXPIRED,
        non_retryable=True,
    )
