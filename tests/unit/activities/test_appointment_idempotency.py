"""The store's steps run again after their first attempt committed (the answer was lost):
the retry finds its change applied and writes nothing, one event per change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from temporalio.common import RetryPolicy

from activities.models import InvoiceRecorded, StatusChange, Withdrawn
from domain import model
from domain.clock import now_utc
from domain.events import EventContext, EventType, event_id_for
from domain.status import AppointmentStatus
from tests.unit.activities.conftest import Bed, slot
from workflows.policies import DB_RETRY, UNTIL_DONE

A = TypeVar("A")
R = TypeVar("R")
S = AppointmentStatus


async def twice_committed_once(
    bed: Bed,
    appointment_id: str,
    step: Callable[[A], Awaitable[R]],
    arg: A,
    policy: RetryPolicy = UNTIL_DONE,
) -> R:
    """The step, then its retry (attempt 2: the first answer was lost): the same answer
    both times, exactly one more change than before, and no gap in the appointment's
    events."""
    writes = bed.store.commits
    first = await bed.twice(step, arg, policy)
    assert bed.store.commits == writes + 1
    seqs = [e.seq for e in await bed.history(appointment_id)]
    assert seqs == list(range(1, len(seqs) + 1))
    return first


async def test_persist_pending_twice_stores_one_appointment(bed: Bed) -> None:
    new = bed.new_appointment(slot())
    first = await twice_committed_once(
        bed, new.appointment_id, bed.local.persist_pending, new, DB_RETRY
    )
    assert (first.status, first.version) == (S.PENDING, 1)
    assert list(bed.store.appointments) == [new.appointment_id]
    (event,) = await bed.history(new.appointment_id)
    assert (event.event_id, event.type) == (event_id_for(new.idempotency_key), EventType.REQUESTED)
    stored = await bed.stored(new.appointment_id)
    assert (stored.hold_id, stored.start) == (new.hold_id, new.start)


async def test_mark_scheduled_twice_schedules_once(bed: Bed) -> None:
    pending = await bed.store.plant(status=S.PENDING)
    change = bed.scheduled(pending.id, invoice_id="inv-42")
    first = await twice_committed_once(bed, pending.id, bed.local.mark_scheduled, change)
    assert (first.status, first.version) == (S.SCHEDULED, 2)
    assert (await bed.stored(pending.id)).invoice_id == "inv-42"


async def test_mark_failed_twice_fails_once(bed: Bed) -> None:
    pending = await bed.store.plant(status=S.PENDING)
    await twice_committed_once(bed, pending.id, bed.local.mark_failed, bed.failed(pending.id))
    assert (await bed.stored(pending.id)).status is S.FAILED


async def test_mark_failed_of_an_appointment_never_persisted_does_nothing(bed: Bed) -> None:
    change = StatusChange(
        appointment_id="never-persisted", idempotency_key=bed.key("failed"), caller=bed.caller
    )
    await bed.run(bed.local.mark_failed, change)
    assert (bed.store.commits, bed.store.appointments) == (0, {})


async def test_record_invoice_twice_records_once(bed: Bed) -> None:
    appointment = await bed.awaiting_invoice()
    record = bed.invoice_record(appointment.id)
    answer = await twice_committed_once(bed, appointment.id, bed.local.record_invoice, record)
    assert answer.recorded
    stored = await bed.stored(appointment.id)
    assert (stored.invoice_id, stored.status) == ("inv-late", S.SCHEDULED)
    assert (await bed.history(appointment.id))[-1].type is EventType.INVOICED


async def test_withdraw_booking_twice_cancels_once(bed: Bed) -> None:
    appointment = await bed.awaiting_invoice()
    withdrawal = bed.withdrawal(appointment.id)
    answer = await twice_committed_once(bed, appointment.id, bed.local.withdraw_booking, withdrawal)
    assert answer.withdrawn
    assert (await bed.stored(appointment.id)).status is S.CANCELLED


@pytest.mark.parametrize(
    ("status", "step", "step_input", "answer"),
    [
        (S.CANCELLED, "record_invoice", "invoice_record", InvoiceRecorded(recorded=False)),
        (S.CHECKED_IN, "withdraw_booking", "withdrawal", Withdrawn(withdrawn=False)),
    ],
    ids=["the invoice of a cancelled booking", "withdrawing a checked-in booking"],
)
async def test_a_late_step_that_no_longer_applies_says_so_and_writes_nothing(
    bed: Bed, status: AppointmentStatus, step: str, step_input: str, answer: object
) -> None:
    appointment = await bed.store.plant(status=status)
    writes = bed.store.commits

    arg = getattr(bed, step_input)(appointment.id)
    assert await bed.run(getattr(bed.local, step), arg) == answer

    assert bed.store.commits == writes


async def test_mark_cancelled_twice_cancels_once(bed: Bed) -> None:
    appointment = await bed.store.plant(status=S.SCHEDULED)
    plan = await bed.run(bed.local.prepare_cancellation, bed.ref(appointment.id), DB_RETRY)
    cancel = await bed.cancel(appointment.id)  # prepared again: the same plan
    assert cancel.expected_version == plan.version
    first = await twice_committed_once(
        bed, appointment.id, bed.local.mark_cancelled, cancel, DB_RETRY
    )
    assert first.status == S.CANCELLED


async def test_move_appointment_twice_moves_once(bed: Bed) -> None:
    appointment = await bed.store.plant(status=S.CONFIRMED)
    new_start = slot(days_ahead=5, hour=11)
    check = bed.reschedule_check(appointment.id, new_start)
    plan = await bed.run(bed.local.prepare_reschedule, check, DB_RETRY)
    move = await bed.move(appointment.id, new_start)  # prepared again: the same plan
    assert (move.expected_version, move.duration_minutes) == (plan.version, plan.duration_minutes)
    await twice_committed_once(bed, appointment.id, bed.local.move_appointment, move, DB_RETRY)
    stored = await bed.stored(appointment.id)
    assert (stored.status, stored.start) == (S.SCHEDULED, new_start)
    assert (stored.hold_id, stored.invoice_id) == ("hold-new", "inv-new")
    assert (await bed.history(appointment.id))[-1].type is EventType.RESCHEDULED


async def test_a_cancellation_raced_by_a_confirmation_is_refused(bed: Bed) -> None:
    """Applies only at the planned version: a change made meanwhile wins, even one after
    which cancelling would be legal, and the refusal makes the cancellation saga
    compensate (void its fee)."""
    appointment = await bed.store.plant(status=S.SCHEDULED)
    cancel = await bed.cancel(appointment.id)  # planned at the version before the race
    confirmed = model.transition(
        appointment,
        S.CONFIRMED,
        event_id="front-desk/confirm",
        now=now_utc(),
        context=EventContext(actor="staff:frontdesk-2"),
    )
    await bed.store.commit(confirmed)
    writes = bed.store.commits
    error = await bed.refused(bed.local.mark_cancelled, cancel, DB_RETRY)
    assert (error.type, error.non_retryable) == ("ConcurrencyConflict", True)
    assert bed.store.commits == writes
    assert (await bed.stored(appointment.id)).status is S.CONFIRMED
