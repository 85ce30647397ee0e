"""The store's steps run again after their first attempt committed (the answer was lost):
the retry finds its change applied and writes nothing, one event per change."""

from __future__ import annotations

from activities.models import (
    AppointmentRef,
    Cancel,
    InvoiceRecord,
    Move,
    RescheduleCheck,
    StatusChange,
    Withdrawal,
)
from domain import model
from domain.clock import now_utc
from domain.events import EventContext, EventType, event_id_for
from domain.status import AppointmentStatus
from tests.unit.activities.conftest import Bed, slot
from workflows.policies import DB_RETRY


async def committed_once(bed: Bed, appointment_id: str, writes_before: int) -> None:
    """Exactly one more change than before, and no two events of one appointment at once."""
    assert bed.store.commits == writes_before + 1
    seqs = [e.seq for e in await bed.history(appointment_id)]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_persist_pending_twice_stores_one_appointment(bed: Bed) -> None:
    new = bed.new_appointment(slot())
    first = await bed.run(bed.local.persist_pending, new, DB_RETRY)
    again = await bed.run(bed.local.persist_pending, new, DB_RETRY, attempt=2)
    assert again == first
    assert (first.status, first.version) == (AppointmentStatus.PENDING, 1)
    assert list(bed.store.appointments) == [new.appointment_id]
    (event,) = await bed.history(new.appointment_id)
    assert (event.event_id, event.type) == (event_id_for(new.idempotency_key), EventType.REQUESTED)
    stored = await bed.stored(new.appointment_id)
    assert (stored.hold_id, stored.start) == (new.hold_id, new.start)


async def test_mark_scheduled_twice_schedules_once(bed: Bed) -> None:
    pending = await bed.store.plant(status=AppointmentStatus.PENDING)
    writes = bed.store.commits
    change = bed.scheduled(pending.id, invoice_id="inv-42")
    first = await bed.run(bed.local.mark_scheduled, change)
    again = await bed.run(bed.local.mark_scheduled, change, attempt=2)
    assert again == first
    assert (first.status, first.version) == (AppointmentStatus.SCHEDULED, 2)
    await committed_once(bed, pending.id, writes)
    assert (await bed.stored(pending.id)).invoice_id == "inv-42"


async def test_mark_failed_twice_fails_once(bed: Bed) -> None:
    pending = await bed.store.plant(status=AppointmentStatus.PENDING)
    writes = bed.store.commits
    change = StatusChange(
        appointment_id=pending.id,
        idempotency_key=bed.key("failed"),
        reason="booking saga compensated",
        caller=bed.caller,
    )
    await bed.run(bed.local.mark_failed, change)
    await bed.run(bed.local.mark_failed, change, attempt=2)
    await committed_once(bed, pending.id, writes)
    assert (await bed.stored(pending.id)).status is AppointmentStatus.FAILED


async def test_mark_failed_of_an_appointment_never_persisted_does_nothing(bed: Bed) -> None:
    change = StatusChange(
        appointment_id="never-persisted", idempotency_key=bed.key("failed"), caller=bed.caller
    )
    await bed.run(bed.local.mark_failed, change)
    assert (bed.store.commits, bed.store.appointments) == (0, {})


async def test_record_invoice_twice_records_once(bed: Bed) -> None:
    appointment = await bed.awaiting_invoice()
    writes = bed.store.commits
    record = InvoiceRecord(
        appointment_id=appointment.id,
        invoice_id="inv-late",
        idempotency_key=bed.key("invoiced"),
        caller=bed.caller,
    )
    assert (await bed.run(bed.local.record_invoice, record)).recorded
    assert (await bed.run(bed.local.record_invoice, record, attempt=2)).recorded
    await committed_once(bed, appointment.id, writes)
    stored = await bed.stored(appointment.id)
    assert (stored.invoice_id, stored.status) == ("inv-late", AppointmentStatus.SCHEDULED)
    assert (await bed.history(appointment.id))[-1].type is EventType.INVOICED


async def test_record_invoice_of_a_cancelled_booking_is_not_wanted(bed: Bed) -> None:
    cancelled = await bed.store.plant(status=AppointmentStatus.CANCELLED)
    writes = bed.store.commits
    record = InvoiceRecord(
        appointment_id=cancelled.id,
        invoice_id="inv-late",
        idempotency_key=bed.key("invoiced"),
        caller=bed.caller,
    )
    assert not (await bed.run(bed.local.record_invoice, record)).recorded
    assert bed.store.commits == writes


async def test_withdraw_booking_twice_cancels_once(bed: Bed) -> None:
    appointment = await bed.awaiting_invoice()
    writes = bed.store.commits
    withdrawal = Withdrawal(
        appointment_id=appointment.id,
        reason="Billing refused the invoice",
        idempotency_key=bed.key("withdrawn"),
        caller=bed.caller,
    )
    assert (await bed.run(bed.local.withdraw_booking, withdrawal)).withdrawn
    assert (await bed.run(bed.local.withdraw_booking, withdrawal, attempt=2)).withdrawn
    await committed_once(bed, appointment.id, writes)
    assert (await bed.stored(appointment.id)).status is AppointmentStatus.CANCELLED


async def test_withdraw_booking_keeps_a_checked_in_booking(bed: Bed) -> None:
    checked_in = await bed.store.plant(status=AppointmentStatus.CHECKED_IN)
    writes = bed.store.commits
    withdrawal = Withdrawal(
        appointment_id=checked_in.id,
        reason="Billing refused the invoice",
        idempotency_key=bed.key("withdrawn"),
        caller=bed.caller,
    )
    assert not (await bed.run(bed.local.withdraw_booking, withdrawal)).withdrawn
    assert bed.store.commits == writes


async def test_mark_cancelled_twice_cancels_once(bed: Bed) -> None:
    appointment = await bed.store.plant(status=AppointmentStatus.SCHEDULED)
    ref = AppointmentRef(appointment_id=appointment.id, caller=bed.caller)
    plan = await bed.run(bed.local.prepare_cancellation, ref, DB_RETRY)
    assert await bed.run(bed.local.prepare_cancellation, ref, DB_RETRY) == plan
    writes = bed.store.commits
    cancel = Cancel(
        appointment_id=appointment.id,
        expected_version=plan.version,
        reason="patient called",
        idempotency_key=bed.key("cancelled"),
        caller=bed.caller,
    )
    first = await bed.run(bed.local.mark_cancelled, cancel, DB_RETRY)
    again = await bed.run(bed.local.mark_cancelled, cancel, DB_RETRY, attempt=2)
    assert again == first
    assert first.status == AppointmentStatus.CANCELLED
    await committed_once(bed, appointment.id, writes)


async def test_move_appointment_twice_moves_once(bed: Bed) -> None:
    appointment = await bed.store.plant(status=AppointmentStatus.CONFIRMED)
    new_start = slot(days_ahead=5, hour=11)
    check = RescheduleCheck(appointment_id=appointment.id, start=new_start, caller=bed.caller)
    plan = await bed.run(bed.local.prepare_reschedule, check, DB_RETRY)
    assert await bed.run(bed.local.prepare_reschedule, check, DB_RETRY) == plan
    writes = bed.store.commits
    move = Move(
        appointment_id=appointment.id,
        expected_version=plan.version,
        start=new_start,
        duration_minutes=plan.duration_minutes,
        hold_id="hold-new",
        invoice_id="inv-new",
        reason="patient asked",
        idempotency_key=bed.key("moved"),
        caller=bed.caller,
    )
    first = await bed.run(bed.local.move_appointment, move, DB_RETRY)
    again = await bed.run(bed.local.move_appointment, move, DB_RETRY, attempt=2)
    assert again == first
    await committed_once(bed, appointment.id, writes)
    stored = await bed.stored(appointment.id)
    assert (stored.status, stored.start) == (AppointmentStatus.SCHEDULED, new_start)
    assert (stored.hold_id, stored.invoice_id) == ("hold-new", "inv-new")
    assert (await bed.history(appointment.id))[-1].type is EventType.RESCHEDULED


async def test_a_cancellation_raced_by_a_confirmation_is_refused(bed: Bed) -> None:
    """Applies only at the planned version: a change made meanwhile wins, even one after
    which cancelling would be legal, and the refusal makes the cancellation saga
    compensate (void its fee)."""
    appointment = await bed.store.plant(status=AppointmentStatus.SCHEDULED)
    ref = AppointmentRef(appointment_id=appointment.id, caller=bed.caller)
    plan = await bed.run(bed.local.prepare_cancellation, ref, DB_RETRY)
    confirmed = model.transition(
        appointment,
        AppointmentStatus.CONFIRMED,
        event_id="front-desk/confirm",
        now=now_utc(),
        context=EventContext(actor="staff:frontdesk-2"),
    )
    await bed.store.commit(confirmed)
    writes = bed.store.commits
    cancel = Cancel(
        appointment_id=appointment.id,
        expected_version=plan.version,
        idempotency_key=bed.key("cancelled"),
        caller=bed.caller,
    )
    error = await bed.refused(bed.local.mark_cancelled, cancel, DB_RETRY)
    assert (error.type, error.non_retryable) == ("ConcurrencyConflict", True)
    assert bed.store.commits == writes
    assert (await bed.stored(appointment.id)).status is AppointmentStatus.CONFIRMED
