"""The saga's own changes (mark_scheduled, mark_failed, record_invoice, withdraw_booking)
raced by an edit: re-read and reapplied on the edited state, so neither change is lost;
a conflict that persists is a transient fault, retried, never a refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from temporalio.exceptions import ApplicationError

from activities.appointments import REAPPLY_ATTEMPTS
from domain import model
from domain.clock import now_utc
from domain.events import EventContext, EventType
from domain.model import Appointment, Change
from domain.status import AppointmentStatus
from tests.fakes import FakeRepository
from tests.unit.activities.conftest import Bed
from workflows.policies import UNTIL_DONE


class RacedRepository(FakeRepository):
    """Before each of the next ``races`` updates, a nurse's notes edit commits first: the
    update then meets a newer version and is refused, as MongoDB would refuse it."""

    def __init__(self) -> None:
        super().__init__()
        self.races = 0
        self.edits = 0

    async def commit(self, change: Change) -> Appointment:
        racing = change.expected_version is not None and change.event.event_id not in self.events
        if racing and self.races > 0:
            self.races -= 1
            self.edits += 1
            current = self.appointments[change.state.id]
            edit = model.edit(
                current,
                event_id=f"nurse-edit-{self.edits}",
                now=now_utc(),
                context=EventContext(actor="staff:nurse-1"),
                notes=f"note {self.edits}",
            )
            await super().commit(edit)
        return await super().commit(change)


Step = Callable[[Bed, str], Awaitable[object]]  # the saga's change of this appointment


async def mark_scheduled(bed: Bed, appointment_id: str) -> object:
    return await bed.run(bed.local.mark_scheduled, bed.scheduled(appointment_id, "inv-9"))


async def mark_failed(bed: Bed, appointment_id: str) -> object:
    return await bed.run(bed.local.mark_failed, bed.failed(appointment_id))


async def record_invoice(bed: Bed, appointment_id: str) -> object:
    return await bed.run(bed.local.record_invoice, bed.invoice_record(appointment_id))


async def withdraw_booking(bed: Bed, appointment_id: str) -> object:
    return await bed.run(bed.local.withdraw_booking, bed.withdrawal(appointment_id))


@dataclass(frozen=True)
class Case:
    step: Step
    from_pending: bool  # True: from PENDING; False: SCHEDULED, awaiting its invoice
    status: AppointmentStatus  # what it leaves
    event: EventType  # what it writes

    def __str__(self) -> str:
        return self.step.__name__


CASES = [
    Case(mark_scheduled, True, AppointmentStatus.SCHEDULED, EventType.SCHEDULED),
    Case(mark_failed, True, AppointmentStatus.FAILED, EventType.BOOKING_FAILED),
    Case(record_invoice, False, AppointmentStatus.SCHEDULED, EventType.INVOICED),
    Case(withdraw_booking, False, AppointmentStatus.CANCELLED, EventType.CANCELLED),
]


@pytest.fixture
def raced(bed: Bed) -> RacedRepository:
    bed.store = RacedRepository()
    return bed.store


async def appointment_for(bed: Bed, case: Case) -> Appointment:
    if case.from_pending:
        return await bed.store.plant(status=AppointmentStatus.PENDING)
    return await bed.awaiting_invoice()


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("races", [1, REAPPLY_ATTEMPTS - 1])
async def test_the_change_is_reapplied_over_the_edit(
    bed: Bed, raced: RacedRepository, case: Case, races: int
) -> None:
    appointment = await appointment_for(bed, case)
    raced.races = races
    await case.step(bed, appointment.id)
    stored = await bed.stored(appointment.id)
    assert (stored.status, stored.notes) == (case.status, f"note {races}")  # both changes kept
    history = await bed.history(appointment.id)
    assert [e.type for e in history[-races - 1 :]] == [EventType.EDITED] * races + [case.event]
    assert stored.version == history[-1].seq


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_conflict_that_persists_is_retried_not_refused(
    bed: Bed, raced: RacedRepository, case: Case
) -> None:
    appointment = await appointment_for(bed, case)
    raced.races = REAPPLY_ATTEMPTS
    with pytest.raises(Exception, match="kept changing") as caught:
        await case.step(bed, appointment.id)
    error = caught.value
    assert not isinstance(error, ApplicationError)  # not a refusal: a transient fault
    assert type(error).__name__ not in (UNTIL_DONE.non_retryable_error_types or [])
    assert raced.edits == REAPPLY_ATTEMPTS
    assert (await bed.history(appointment.id))[-1].type is EventType.EDITED  # ours not written

    await case.step(bed, appointment.id)  # the retry, once the edits have stopped
    stored = await bed.stored(appointment.id)
    assert stored.status is case.status
    assert (await bed.history(appointment.id))[-1].type is case.event
