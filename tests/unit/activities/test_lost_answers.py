"""The compensations registered before their step (release_slot, void_invoice) find by
the step's key what a lost answer left behind, and leave alone what is not theirs."""

from __future__ import annotations

import uuid

from activities.models import InvoiceVoid
from peers.contracts import HoldStatus, InvoiceStatus
from tests.unit.activities.conftest import BEN, Bed, slot
from workflows.policies import PEER_RETRY, UNTIL_DONE

# --- release_slot ---------------------------------------------------------------------------


async def test_release_slot_finds_the_hold_whose_answer_was_lost(bed: Bed) -> None:
    reservation = bed.reservation(slot())
    await bed.run(bed.remote.reserve_slot, reservation, PEER_RETRY)  # its answer never arrives
    await bed.run(bed.remote.release_slot, reservation, UNTIL_DONE)
    assert [h.status for h in await bed.holds()] == [HoldStatus.RELEASED]
    await bed.run(bed.remote.check_availability, bed.slot_check(reservation.start, patient_id=None))


async def test_release_slot_leaves_someone_elses_hold_alone(bed: Bed) -> None:
    """Our reservation never reached the Doctor Service; another patient holds the slot."""
    start = slot()
    theirs = await bed.run(
        bed.remote.reserve_slot, bed.reservation(start, patient_id=BEN, key="theirs/hold")
    )
    await bed.run(bed.remote.release_slot, bed.reservation(start), UNTIL_DONE)
    (hold,) = await bed.holds()
    assert (hold.id, hold.status, hold.patient_id) == (theirs.hold_id, HoldStatus.HELD, BEN)


async def test_release_slot_of_a_slot_not_offered_does_nothing(bed: Bed) -> None:
    await bed.run(bed.remote.release_slot, bed.reservation(slot(hour=23)), UNTIL_DONE)
    assert await bed.holds() == []


async def test_release_slot_of_a_reservation_that_never_arrived_leaves_the_slot_free(
    bed: Bed,
) -> None:
    """Nothing was held: the slot stays free, and a late arrival of the reservation (the
    same key) answers a released hold instead of taking the slot."""
    reservation = bed.reservation(slot())
    await bed.run(bed.remote.release_slot, reservation, UNTIL_DONE)
    assert await bed.holds(HoldStatus.HELD) == []
    late = await bed.run(bed.remote.reserve_slot, reservation, PEER_RETRY)
    (hold,) = await bed.holds()
    assert (hold.id, hold.status) == (late.hold_id, HoldStatus.RELEASED)
    await bed.run(bed.remote.check_availability, bed.slot_check(reservation.start, patient_id=BEN))


async def test_release_slot_of_an_expired_hold_is_done(bed: Bed) -> None:
    reservation = bed.reservation(slot())
    await bed.run(bed.remote.reserve_slot, reservation, PEER_RETRY)
    bed.sim_clock.advance(bed.settings.slot_hold_minutes * 60)
    await bed.run(bed.remote.release_slot, reservation, UNTIL_DONE)
    assert [h.status for h in await bed.holds()] == [HoldStatus.EXPIRED]


# --- void_invoice ---------------------------------------------------------------------------


async def test_void_invoice_finds_the_invoice_whose_answer_was_lost(bed: Bed) -> None:
    order = bed.invoice_order(str(uuid.uuid4()))
    await bed.run(bed.remote.create_invoice, order, PEER_RETRY)  # its answer never arrives
    await bed.run(bed.remote.void_invoice, order.voiding(), UNTIL_DONE)
    (invoice,) = await bed.invoices(order.appointment_id)
    assert (invoice.idempotency_key, invoice.status) == (order.idempotency_key, InvoiceStatus.VOID)


async def test_void_invoice_leaves_the_appointments_other_invoices_alone(bed: Bed) -> None:
    """The booking's invoice, when the cancellation's fee is voided: not ours."""
    appointment_id = str(uuid.uuid4())
    booking = bed.invoice_order(appointment_id, key="the-booking/invoice")
    kept = await bed.run(bed.remote.create_invoice, booking, PEER_RETRY)
    ours = bed.invoice_order(appointment_id)
    voided = await bed.run(bed.remote.create_invoice, ours, PEER_RETRY)
    await bed.run(bed.remote.void_invoice, ours.voiding(), UNTIL_DONE)
    statuses = {i.id: i.status for i in await bed.invoices(appointment_id)}
    assert statuses == {kept.invoice_id: InvoiceStatus.OPEN, voided.invoice_id: InvoiceStatus.VOID}


async def test_void_invoice_without_an_invoice_of_ours_does_nothing(bed: Bed) -> None:
    """The creation never reached Billing (or was refused): nothing to void, nothing fails."""
    appointment_id = str(uuid.uuid4())
    theirs = bed.invoice_order(appointment_id, key="someone-else/invoice")
    other = await bed.run(bed.remote.create_invoice, theirs, PEER_RETRY)
    void = InvoiceVoid(
        appointment_id=appointment_id, idempotency_key=bed.key("invoice"), caller=bed.caller
    )
    await bed.run(bed.remote.void_invoice, void, UNTIL_DONE)
    (invoice,) = await bed.invoices()
    assert (invoice.id, invoice.status) == (other.invoice_id, InvoiceStatus.OPEN)


async def test_void_invoice_when_billing_has_no_invoice_at_all(bed: Bed) -> None:
    void = InvoiceVoid(
        appointment_id=str(uuid.uuid4()), idempotency_key=bed.key("invoice"), caller=bed.caller
    )
    await bed.run(bed.remote.void_invoice, void, UNTIL_DONE)
    assert await bed.invoices() == []
