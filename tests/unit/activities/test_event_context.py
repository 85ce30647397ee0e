"""Every event an activity writes says who asked (the caller's actor and request id), why,
and which saga run carried the change (the run's workflow id and run id, from the
activity's info), whatever the caller's context said about a run."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from domain.events import EventType
from domain.status import AppointmentStatus
from tests.unit.activities.conftest import ACTOR, Bed, slot
from workflows.policies import DB_RETRY

# The change's appointment, the event type it writes and the reason it gives.
Write = Callable[[Bed], Awaitable[tuple[str, EventType, str]]]


async def persist_pending(bed: Bed) -> tuple[str, EventType, str]:
    new = bed.new_appointment(slot())
    await bed.run(bed.local.persist_pending, new, DB_RETRY)
    return new.appointment_id, EventType.REQUESTED, "booking requested"


async def mark_scheduled(bed: Bed) -> tuple[str, EventType, str]:
    pending = await bed.store.plant(status=AppointmentStatus.PENDING)
    await bed.run(bed.local.mark_scheduled, bed.scheduled(pending.id))
    return pending.id, EventType.SCHEDULED, "booking saga completed"


async def mark_failed(bed: Bed) -> tuple[str, EventType, str]:
    pending = await bed.store.plant(status=AppointmentStatus.PENDING)
    await bed.run(bed.local.mark_failed, bed.failed(pending.id))
    return pending.id, EventType.BOOKING_FAILED, "booking saga compensated"


async def record_invoice(bed: Bed) -> tuple[str, EventType, str]:
    appointment = await bed.awaiting_invoice()
    await bed.run(bed.local.record_invoice, bed.invoice_record(appointment.id))
    return appointment.id, EventType.INVOICED, "invoiced once Billing was back"


async def withdraw_booking(bed: Bed) -> tuple[str, EventType, str]:
    appointment = await bed.awaiting_invoice()
    await bed.run(bed.local.withdraw_booking, bed.withdrawal(appointment.id))
    return appointment.id, EventType.CANCELLED, "Billing refused the invoice"


async def mark_cancelled(bed: Bed) -> tuple[str, EventType, str]:
    appointment = await bed.store.plant(status=AppointmentStatus.SCHEDULED)
    await bed.run(bed.local.mark_cancelled, await bed.cancel(appointment.id), DB_RETRY)
    return appointment.id, EventType.CANCELLED, "patient called"


async def move_appointment(bed: Bed) -> tuple[str, EventType, str]:
    appointment = await bed.store.plant(status=AppointmentStatus.SCHEDULED)
    move = await bed.move(appointment.id, slot(days_ahead=6))
    await bed.run(bed.local.move_appointment, move, DB_RETRY)
    return appointment.id, EventType.RESCHEDULED, "patient asked"


WRITES: list[Write] = [
    persist_pending,
    mark_scheduled,
    mark_failed,
    record_invoice,
    withdraw_booking,
    mark_cancelled,
    move_appointment,
]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__ for w in WRITES])
async def test_the_event_names_the_caller_and_the_run(bed: Bed, write: Write) -> None:
    appointment_id, event_type, reason = await write(bed)
    event = (await bed.history(appointment_id))[-1]
    assert event.type is event_type
    assert event.context.actor == ACTOR
    assert event.context.request_id == bed.caller.request_id
    assert event.context.workflow_id == bed.workflow_id
    assert event.context.run_id == bed.run_id
    assert event.context.reason == reason


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__ for w in WRITES])
async def test_the_run_is_the_activitys_not_the_callers_guess(bed: Bed, write: Write) -> None:
    bed.caller = dataclasses.replace(
        bed.caller, workflow_id="not-this-run", run_id="nor-this", reason="overwritten"
    )
    appointment_id, _, reason = await write(bed)
    context = (await bed.history(appointment_id))[-1].context
    assert (context.workflow_id, context.run_id) == (bed.workflow_id, bed.run_id)
    assert context.reason == reason


async def test_the_booking_remembers_the_run_that_made_it(bed: Bed) -> None:
    appointment_id, _, _ = await persist_pending(bed)
    assert (await bed.stored(appointment_id)).booking_workflow_id == bed.workflow_id


async def test_a_booking_over_the_patients_cap_says_so_in_its_event(bed: Bed) -> None:
    # Staff or admin booked over the cap of active appointments (application/quotas.py):
    # the appointment.requested event records the override, with who did it.
    new = bed.new_appointment(slot()).model_copy(update={"over_patient_cap": True})
    await bed.run(bed.local.persist_pending, new, DB_RETRY)

    [event] = await bed.history(new.appointment_id)
    assert event.type is EventType.REQUESTED
    assert event.context.reason == "booking requested over the patient's cap of active appointments"
    assert event.context.actor == ACTOR
