"""A retry whose first attempt committed, run after the appointment moved on (a worker
crashed after a local activity committed, and another worker runs it again minutes later;
or the answer was lost and the retry comes after the backoff): the retry must still know
its change as done, write nothing and not fail, whatever happened to the appointment since.
"""

from __future__ import annotations

import pytest

from domain import model
from domain.clock import now_utc
from domain.events import EventContext
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.unit.activities.conftest import Bed, slot
from workflows.policies import DB_RETRY

STAFF = EventContext(actor="staff:frontdesk-2")


async def moved_on(bed: Bed, appointment: Appointment, *path: AppointmentStatus) -> Appointment:
    """Staff changed the appointment since: a notes edit, then each status of ``path``."""
    current = await bed.store.commit(
        model.edit(appointment, event_id="staff/edit", now=now_utc(), context=STAFF, notes="n")
    )
    for status in path:
        change = model.transition(
            current, status, event_id=f"staff/{status}", now=now_utc(), context=STAFF
        )
        current = await bed.store.commit(change)
    return current


async def test_persist_pending_after_the_booking_was_scheduled(bed: Bed) -> None:
    new = bed.new_appointment(slot())
    await bed.run(bed.local.persist_pending, new, DB_RETRY)
    await bed.run(bed.local.mark_scheduled, bed.scheduled(new.appointment_id))
    writes = bed.store.commits
    again = await bed.run(bed.local.persist_pending, new, DB_RETRY, attempt=2)
    assert (again.status, bed.store.commits) == (AppointmentStatus.SCHEDULED, writes)


async def test_mark_scheduled_after_a_notes_edit(bed: Bed) -> None:
    pending = await bed.store.plant(status=AppointmentStatus.PENDING)
    first = await bed.run(bed.local.mark_scheduled, bed.scheduled(pending.id))
    await moved_on(bed, await bed.stored(pending.id))
    writes = bed.store.commits
    again = await bed.run(bed.local.mark_scheduled, bed.scheduled(pending.id), attempt=2)
    assert (again.status, again.version) == (first.status, first.version + 1)
    assert bed.store.commits == writes


@pytest.mark.parametrize(
    "path",
    [
        (AppointmentStatus.CONFIRMED,),
        (AppointmentStatus.CHECKED_IN,),
        (AppointmentStatus.CANCELLED,),
    ],
    ids=lambda path: path[-1].value,
)
async def test_mark_scheduled_after_the_appointment_moved_on(
    bed: Bed, path: tuple[AppointmentStatus, ...]
) -> None:
    pending = await bed.store.plant(status=AppointmentStatus.PENDING)
    await bed.run(bed.local.mark_scheduled, bed.scheduled(pending.id))
    current = await moved_on(bed, await bed.stored(pending.id), *path)
    writes = bed.store.commits
    again = await bed.run(bed.local.mark_scheduled, bed.scheduled(pending.id), attempt=2)
    assert (again.status, again.version) == (current.status, current.version)
    assert bed.store.commits == writes


async def test_record_invoice_after_the_appointment_was_confirmed(bed: Bed) -> None:
    appointment = await bed.awaiting_invoice()
    record = bed.invoice_record(appointment.id)
    assert (await bed.run(bed.local.record_invoice, record)).recorded
    await moved_on(bed, await bed.stored(appointment.id), AppointmentStatus.CONFIRMED)
    writes = bed.store.commits
    assert (await bed.run(bed.local.record_invoice, record, attempt=2)).recorded
    assert bed.store.commits == writes


async def test_move_appointment_after_the_moved_appointment_was_confirmed(bed: Bed) -> None:
    appointment = await bed.store.plant(status=AppointmentStatus.SCHEDULED)
    move = await bed.move(appointment.id, slot(days_ahead=6))
    await bed.run(bed.local.move_appointment, move, DB_RETRY)
    current = await moved_on(bed, await bed.stored(appointment.id), AppointmentStatus.CONFIRMED)
    writes = bed.store.commits
    again = await bed.run(bed.local.move_appointment, move, DB_RETRY, attempt=2)
    assert (again.status, again.version) == (current.status, current.version)
    assert bed.store.commits == writes


async def test_record_invoice_after_a_reschedule_invoiced_the_new_time(bed: Bed) -> None:
    """The reschedule put its own invoice on the appointment: the retry still knows its
    record by its event, and does not answer "not wanted" (which would void an invoice)."""
    appointment = await bed.awaiting_invoice()
    record = bed.invoice_record(appointment.id)
    assert (await bed.run(bed.local.record_invoice, record)).recorded
    current = await bed.stored(appointment.id)
    moved = model.reschedule(
        current,
        start=slot(days_ahead=8),
        duration_minutes=current.duration_minutes,
        hold_id="hold-moved",
        invoice_id="inv-moved",
        event_id="staff/moved",
        now=now_utc(),
        context=STAFF,
    )
    await bed.store.commit(moved)
    writes = bed.store.commits
    assert (await bed.run(bed.local.record_invoice, record, attempt=2)).recorded
    assert bed.store.commits == writes
