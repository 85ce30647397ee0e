"""The no-show reversal's steps (activities/appointments.py) on the in-memory store and
the real Billing simulator: the plan refuses what cannot be reversed, the reversal commits
once at the planned version, the fee's void at Billing is recorded once, and a retry after
a lost answer writes nothing twice."""

from __future__ import annotations

from datetime import timedelta

from activities.models import InvoiceRef, NoShowFeeVoid, NoShowReversal
from domain import model
from domain.clock import now_utc
from domain.events import EventContext, EventType, event_id_for
from domain.model import Appointment
from domain.status import AppointmentStatus
from peers.contracts import InvoiceStatus
from tests.unit.activities.conftest import Bed
from workflows.policies import DB_RETRY, UNTIL_DONE

S = AppointmentStatus


async def no_show(
    bed: Bed, invoice_id: str | None, ago: timedelta = timedelta(hours=1)
) -> Appointment:
    """A NO_SHOW recorded ``ago`` (its start a little before), with ``invoice_id`` as its fee."""
    recorded_at = now_utc() - ago
    scheduled = await bed.store.plant(start=recorded_at - timedelta(minutes=30))
    fee = {"no_show_invoice_id": invoice_id} if invoice_id else {}
    return await bed.store.commit(
        model.transition(
            scheduled,
            S.NO_SHOW,
            event_id=event_id_for(f"{scheduled.id}/no-show"),
            now=recorded_at,
            context=EventContext(actor="system:journey"),
            **fee,
        )
    )


def reversal(bed: Bed, appointment: Appointment, version: int | None = None) -> NoShowReversal:
    return NoShowReversal(
        appointment_id=appointment.id,
        expected_version=appointment.version if version is None else version,
        target="COMPLETED",
        reason="seen at 09:20",
        idempotency_key=bed.key("reversed"),
        caller=bed.caller,
    )


def void(bed: Bed, appointment: Appointment, invoice_id: str) -> NoShowFeeVoid:
    return NoShowFeeVoid(
        appointment_id=appointment.id,
        invoice_id=invoice_id,
        idempotency_key=bed.key("fee-voided"),
        caller=bed.caller,
    )


async def test_the_steps_reverse_the_no_show_void_its_fee_and_record_it(bed: Bed) -> None:
    fee = await bed.issued()  # the no-show fee, at the Billing simulator
    appointment = await no_show(bed, fee.invoice_id)

    plan = await bed.run(bed.local.prepare_no_show_reversal, bed.ref(appointment.id), DB_RETRY)
    assert (plan.version, plan.no_show_invoice_id) == (appointment.version, fee.invoice_id)
    reversed_ = await bed.twice(bed.local.reverse_no_show, reversal(bed, appointment), DB_RETRY)
    assert (reversed_.status, reversed_.version) == ("COMPLETED", appointment.version + 1)
    await bed.run(
        bed.remote.void_invoice_id, InvoiceRef(invoice_id=fee.invoice_id, caller=bed.caller)
    )
    writes = bed.store.commits
    recorded = await bed.twice(
        bed.local.record_no_show_fee_voided, void(bed, appointment, fee.invoice_id)
    )

    assert recorded.recorded
    assert bed.store.commits == writes + 1, "the retry wrote nothing"
    [invoice] = await bed.invoices(status=InvoiceStatus.VOID)
    assert invoice.id == fee.invoice_id
    stored = await bed.stored(appointment.id)
    assert (stored.status, stored.no_show_invoice_id) == (S.COMPLETED, None)
    events = (await bed.history(appointment.id))[-2:]
    assert [e.type for e in events] == [EventType.NO_SHOW_REVERSED, EventType.NO_SHOW_FEE_VOIDED]
    assert events[0].context.reason == "seen at 09:20"
    assert events[1].details["invoice_id"] == fee.invoice_id
    assert {e.context.workflow_id for e in events} == {bed.workflow_id}


async def test_the_plan_refuses_a_no_show_older_than_24_hours(bed: Bed) -> None:
    appointment = await no_show(bed, "inv-ns", ago=timedelta(hours=24, minutes=1))
    refused = await bed.refused(
        bed.local.prepare_no_show_reversal, bed.ref(appointment.id), DB_RETRY
    )
    assert (refused.type, refused.non_retryable) == ("NoShowReversalClosed", True)


async def test_the_plan_refuses_what_is_no_no_show(bed: Bed) -> None:
    appointment = await bed.store.plant(status=S.CHECKED_IN)
    refused = await bed.refused(
        bed.local.prepare_no_show_reversal, bed.ref(appointment.id), DB_RETRY
    )
    assert (refused.type, refused.non_retryable) == ("IllegalTransition", True)


async def test_a_change_made_since_the_plan_wins(bed: Bed) -> None:
    appointment = await no_show(bed, "inv-ns")
    stale = reversal(bed, appointment, version=appointment.version - 1)
    refused = await bed.refused(bed.local.reverse_no_show, stale, DB_RETRY)
    assert refused.type == "ConcurrencyConflict"
    assert (await bed.stored(appointment.id)).status is S.NO_SHOW


async def test_a_void_of_another_invoice_is_not_recorded(bed: Bed) -> None:
    appointment = await no_show(bed, "inv-ns")
    await bed.run(bed.local.reverse_no_show, reversal(bed, appointment), DB_RETRY)
    writes = bed.store.commits
    answer = await bed.run(
        bed.local.record_no_show_fee_voided, void(bed, appointment, "inv-other"), UNTIL_DONE
    )
    assert not answer.recorded
    assert bed.store.commits == writes
    assert (await bed.stored(appointment.id)).no_show_invoice_id == "inv-ns"
