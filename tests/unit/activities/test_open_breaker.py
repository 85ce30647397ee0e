"""A peer's breaker opened by ``THRESHOLD`` transient failures in a row: a step retried
until done (a compensation, a step after the commit point) raises a retryable
``BreakerOpen`` whose next retry is due when the breaker lets a trial through; a forward
step with a bounded policy fails fast with the non-retryable ``PeerCircuitOpen``. The
step's policy, as the saga states it at the call site, decides, not the activity."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from activities.errors import CIRCUIT_OPEN, NON_RETRYABLE_TYPES
from activities.models import PatientCheck
from domain.errors import PeerUnavailable
from domain.status import AppointmentStatus
from peers.breaker import BreakerState
from peers.contracts import HoldStatus, InvoiceStatus
from peers.http import PeerName
from tests.unit.activities.conftest import ANNA, RESET_SECONDS, THRESHOLD, Bed, slot
from workflows.policies import PEER_RETRY, UNTIL_DONE, until_billing_is_back

Run = Callable[[RetryPolicy, int], Awaitable[object]]  # one attempt: its policy and number
Prepare = Callable[[Bed], Awaitable[Run]]  # what the step needs, made while the peer is up

INVOICE_LATER = until_billing_is_back(60)


def attempts(bed: Bed, step: Callable[[Any], Awaitable[object]], arg: object) -> Run:
    """Each attempt of ``step`` on ``arg``, under the policy and number it is given."""
    return lambda policy, n: bed.run(step, arg, policy, n)


async def release_slot(bed: Bed) -> Run:
    reservation = bed.reservation(slot())
    await bed.run(bed.remote.reserve_slot, reservation, PEER_RETRY)
    return attempts(bed, bed.remote.release_slot, reservation)


async def release_hold(bed: Bed) -> Run:
    action = await bed.held()
    return attempts(bed, bed.remote.release_hold, action)


async def void_invoice(bed: Bed) -> Run:
    order = bed.invoice_order(str(uuid.uuid4()))
    await bed.run(bed.remote.create_invoice, order, PEER_RETRY)
    return attempts(bed, bed.remote.void_invoice, order.voiding())


async def void_invoice_id(bed: Bed) -> Run:
    ref = await bed.issued()
    return attempts(bed, bed.remote.void_invoice_id, ref)


async def invoice_later(bed: Bed) -> Run:
    order = bed.invoice_order((await bed.awaiting_invoice()).id)
    step = bed.remote.create_invoice_when_billing_is_back
    return attempts(bed, step, order)


async def validate_patient(bed: Bed) -> Run:
    check = PatientCheck(patient_id=ANNA, caller=bed.caller)
    return attempts(bed, bed.remote.validate_patient, check)


async def check_availability(bed: Bed) -> Run:
    check = bed.slot_check(slot())
    return attempts(bed, bed.remote.check_availability, check)


async def reserve_slot(bed: Bed) -> Run:
    reservation = bed.reservation(slot())
    return attempts(bed, bed.remote.reserve_slot, reservation)


async def confirm_slot(bed: Bed) -> Run:
    action = await bed.held()
    return attempts(bed, bed.remote.confirm_slot, action)


async def create_invoice(bed: Bed) -> Run:
    order = bed.invoice_order(str(uuid.uuid4()))
    return attempts(bed, bed.remote.create_invoice, order)


UNTIL_DONE_STEPS: list[tuple[PeerName, Prepare, RetryPolicy]] = [
    ("doctor", release_slot, UNTIL_DONE),
    ("doctor", release_hold, UNTIL_DONE),
    ("billing", void_invoice, UNTIL_DONE),
    ("billing", void_invoice_id, UNTIL_DONE),
    ("billing", invoice_later, INVOICE_LATER),
]
FORWARD_STEPS: list[tuple[PeerName, Prepare]] = [
    ("patient", validate_patient),
    ("doctor", check_availability),
    ("doctor", reserve_slot),
    ("doctor", confirm_slot),
    ("billing", create_invoice),
]


@pytest.mark.parametrize(
    ("peer", "prepare", "policy"), UNTIL_DONE_STEPS, ids=[c[1].__name__ for c in UNTIL_DONE_STEPS]
)
async def test_a_step_retried_until_done_waits_for_the_breaker(
    bed: Bed, peer: PeerName, prepare: Prepare, policy: RetryPolicy
) -> None:
    attempt = await prepare(bed)
    peer_before = (await bed.holds(), await bed.invoices())
    await bed.open_breaker(peer)
    with pytest.raises(ApplicationError) as caught:
        await attempt(policy, 1)
    error = caught.value
    assert (error.type, error.non_retryable) == ("BreakerOpen", False)
    assert error.next_retry_delay == timedelta(seconds=RESET_SECONDS)
    assert "BreakerOpen" not in NON_RETRYABLE_TYPES  # the policy does not stop it either
    assert (await bed.holds(), await bed.invoices()) == peer_before  # nothing reached the peer

    bed.ticks.advance(RESET_SECONDS - 10)  # the next retry: due when the breaker says
    with pytest.raises(ApplicationError) as later:
        await attempt(policy, 2)
    assert later.value.next_retry_delay == timedelta(seconds=10)

    await bed.fault(peer, mode="ok")  # the peer is back by the time the breaker tries
    bed.ticks.advance(10)
    await attempt(policy, 3)
    assert bed.breaker(peer).state is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("peer", "prepare"), FORWARD_STEPS, ids=[c[1].__name__ for c in FORWARD_STEPS]
)
async def test_a_forward_step_fails_fast_and_for_good(
    bed: Bed, peer: PeerName, prepare: Prepare
) -> None:
    attempt = await prepare(bed)
    peer_before = (await bed.holds(), await bed.invoices())
    await bed.open_breaker(peer)
    with pytest.raises(ApplicationError) as caught:
        await attempt(PEER_RETRY, 1)
    error = caught.value
    assert (error.type, error.non_retryable) == (CIRCUIT_OPEN, True)
    assert error.next_retry_delay is None
    assert error.details == ({"peer": peer, "retry_after": RESET_SECONDS},)
    assert (await bed.holds(), await bed.invoices()) == peer_before


async def test_the_compensations_work_is_done_once_the_breaker_lets_it_through(bed: Bed) -> None:
    reservation = bed.reservation(slot())
    order = bed.invoice_order(str(uuid.uuid4()))
    await bed.run(bed.remote.reserve_slot, reservation, PEER_RETRY)
    await bed.run(bed.remote.create_invoice, order, PEER_RETRY)
    await bed.open_breaker("doctor")
    await bed.open_breaker("billing")
    assert (await bed.refused(bed.remote.release_slot, reservation)).type == "BreakerOpen"
    assert (await bed.refused(bed.remote.void_invoice, order.voiding())).type == "BreakerOpen"
    await bed.fault("doctor", mode="ok")
    await bed.fault("billing", mode="ok")
    bed.ticks.advance(RESET_SECONDS)
    await bed.run(bed.remote.release_slot, reservation, UNTIL_DONE, attempt=2)
    await bed.run(bed.remote.void_invoice, order.voiding(), UNTIL_DONE, attempt=2)
    assert [h.status for h in await bed.holds()] == [HoldStatus.RELEASED]
    assert [i.status for i in await bed.invoices()] == [InvoiceStatus.VOID]


async def test_the_policy_not_the_activity_decides(bed: Bed) -> None:
    action = await bed.held()
    await bed.open_breaker("doctor")
    bounded = await bed.refused(bed.remote.release_hold, action, PEER_RETRY)
    assert (bounded.type, bounded.non_retryable) == (CIRCUIT_OPEN, True)
    unbounded = await bed.refused(bed.remote.reserve_slot, bed.reservation(slot(4)), UNTIL_DONE)
    assert (unbounded.type, unbounded.non_retryable) == ("BreakerOpen", False)


async def test_before_it_opens_a_transient_fault_escapes_as_it_is(bed: Bed) -> None:
    """Each of the failures that open the breaker is left to the step's retry policy."""
    action = await bed.held()
    await bed.fault("doctor", mode="fail")
    for attempt in range(1, THRESHOLD + 1):
        with pytest.raises(PeerUnavailable, match="503"):
            await bed.run(bed.remote.release_hold, action, UNTIL_DONE, attempt)
    assert bed.breaker("doctor").state is BreakerState.OPEN
    error = await bed.refused(bed.remote.release_hold, action, UNTIL_DONE)
    assert error.next_retry_delay == timedelta(seconds=RESET_SECONDS)


async def test_a_cancelled_booking_stops_waiting_for_billing(bed: Bed) -> None:
    """The late invoice asks the store first: a cancellation ends the wait even while
    Billing's breaker is still open."""
    cancelled = await bed.store.plant(status=AppointmentStatus.CANCELLED)
    await bed.open_breaker("billing")
    order = bed.invoice_order(cancelled.id)
    deferred = await bed.run(bed.remote.create_invoice_when_billing_is_back, order, INVOICE_LATER)
    assert deferred.invoice_id is None
