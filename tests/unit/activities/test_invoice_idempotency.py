"""The Billing steps run twice with the same input: one invoice, by the order's key."""

from __future__ import annotations

import uuid

from activities.models import FeeOrder
from domain.status import AppointmentStatus
from peers.contracts import InvoiceStatus
from tests.unit.activities.conftest import ANNA, Bed
from workflows.policies import PEER_RETRY


async def test_create_invoice_twice_bills_once(bed: Bed) -> None:
    order = bed.invoice_order(str(uuid.uuid4()))
    first = await bed.twice(bed.remote.create_invoice, order, PEER_RETRY)
    (invoice,) = await bed.invoices()
    assert invoice.id == first.invoice_id
    assert invoice.idempotency_key == order.idempotency_key
    assert (invoice.appointment_id, invoice.patient_id) == (order.appointment_id, ANNA)
    assert invoice.amount_cents == bed.settings.appointment_price_cents
    assert invoice.currency == bed.settings.currency
    assert invoice.status is InvoiceStatus.OPEN


async def test_issue_fee_twice_bills_the_fee_once(bed: Bed) -> None:
    fee = FeeOrder(
        appointment_id=str(uuid.uuid4()),
        patient_id=ANNA,
        amount_cents=2500,
        idempotency_key=bed.key("fee"),
        caller=bed.caller,
    )
    first = await bed.twice(bed.remote.issue_fee, fee, PEER_RETRY)
    (invoice,) = await bed.invoices()
    assert (invoice.id, invoice.amount_cents) == (first.invoice_id, 2500)
    assert "Late cancellation fee" in invoice.description


async def test_void_invoice_twice_voids_once(bed: Bed) -> None:
    order = bed.invoice_order(str(uuid.uuid4()))
    issued = await bed.run(bed.remote.create_invoice, order, PEER_RETRY)
    await bed.twice(bed.remote.void_invoice, order.voiding())
    (invoice,) = await bed.invoices()
    assert (invoice.id, invoice.status) == (issued.invoice_id, InvoiceStatus.VOID)


async def test_void_invoice_id_twice_voids_once(bed: Bed) -> None:
    ref = await bed.issued()
    await bed.twice(bed.remote.void_invoice_id, ref)
    (invoice,) = await bed.invoices()
    assert (invoice.id, invoice.status) == (ref.invoice_id, InvoiceStatus.VOID)


async def test_invoice_later_twice_bills_once(bed: Bed) -> None:
    appointment = await bed.awaiting_invoice()
    order = bed.invoice_order(appointment.id)
    first = await bed.twice(bed.remote.create_invoice_when_billing_is_back, order)
    assert first.invoice_id is not None
    assert [i.id for i in await bed.invoices(appointment.id)] == [first.invoice_id]


async def test_invoice_later_answers_the_invoice_whose_answer_was_lost(bed: Bed) -> None:
    """The forward create_invoice reached Billing but its answer never came back: the late
    invoice, by the booking's own key, is that same invoice, not a second one."""
    appointment = await bed.awaiting_invoice()
    order = bed.invoice_order(appointment.id)
    lost = await bed.run(bed.remote.create_invoice, order, PEER_RETRY)
    deferred = await bed.run(bed.remote.create_invoice_when_billing_is_back, order)
    assert deferred.invoice_id == lost.invoice_id
    assert len(await bed.invoices(appointment.id)) == 1


async def test_invoice_later_bills_nothing_once_recorded(bed: Bed) -> None:
    appointment = await bed.awaiting_invoice()
    order = bed.invoice_order(appointment.id)
    deferred = await bed.run(bed.remote.create_invoice_when_billing_is_back, order)
    assert deferred.invoice_id is not None
    assert deferred.invoice_id is not None
    record = bed.invoice_record(appointment.id, deferred.invoice_id)
    assert (await bed.run(bed.local.record_invoice, record)).recorded
    again = await bed.run(bed.remote.create_invoice_when_billing_is_back, order, attempt=2)
    assert again.invoice_id is None
    assert len(await bed.invoices(appointment.id)) == 1


async def test_invoice_later_bills_nothing_for_a_cancelled_booking(bed: Bed) -> None:
    cancelled = await bed.store.plant(status=AppointmentStatus.CANCELLED)
    order = bed.invoice_order(cancelled.id)
    assert (await bed.run(bed.remote.create_invoice_when_billing_is_back, order)).invoice_id is None
    assert await bed.invoices() == []
