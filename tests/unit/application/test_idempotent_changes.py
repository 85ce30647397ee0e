"""An Idempotency-Key on a change made in one transaction: the same key retried answers the
appointment as it is and writes nothing twice, whatever happened since; the same key with
a different change of the same kind is refused. A key belongs to one change (action) of
one appointment."""

from __future__ import annotations

import pytest

from application.commands import ChangeStatus, Edit, EditDetails, EnterInError, StatusAction
from application.errors import IdempotencyKeyReused
from domain.errors import IllegalTransition, NoShowBeforeStart
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import ADMIN, LATER, STAFF, THE_PATIENT, asking, key

S = AppointmentStatus


def status(
    appointment: Appointment,
    action: StatusAction,
    key: str | None,
    reason: str | None = None,
    if_match: int | None = None,
) -> ChangeStatus:
    return ChangeStatus(
        appointment_id=appointment.id,
        action=action,
        idempotency_key=key,
        reason=reason,
        if_match=if_match,
    )


async def events(world: World, appointment: Appointment) -> list[str]:
    return [e.type.value for e in await world.repository.history(appointment.id)]


async def test_the_same_key_retried_answers_the_state_and_writes_once(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    confirm = status(appointment, "confirm", key("confirm"), reason="called")

    first = await world.services.changes.change_status(confirm, STAFF)
    commits = world.repository.commits
    again = await world.services.changes.change_status(confirm, STAFF)

    assert again == first
    assert world.repository.commits == commits
    assert (await events(world, appointment)).count("appointment.confirmed") == 1


async def test_a_retry_after_later_changes_answers_the_state_as_it_is_now(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    confirm = status(appointment, "confirm", key("confirm"))
    await world.services.changes.change_status(confirm, STAFF)
    checked_in = await world.services.changes.change_status(
        status(appointment, "check-in", None), STAFF
    )
    commits = world.repository.commits

    # Confirming a CHECKED_IN appointment is illegal; a retry of a made one is not that.
    again = await world.services.changes.change_status(confirm, STAFF)

    assert again == checked_in
    assert world.repository.commits == commits


async def test_a_retry_is_recognised_before_its_now_stale_if_match(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    confirm = status(appointment, "confirm", key(), if_match=appointment.version)
    first = await world.services.changes.change_status(confirm, STAFF)

    again = await world.services.changes.change_status(confirm, STAFF)

    assert again == first
    assert again.version == appointment.version + 1


async def test_the_same_key_with_another_reason_is_refused(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    used = key()
    await world.services.changes.change_status(status(appointment, "confirm", used, "a"), STAFF)
    commits = world.repository.commits

    with pytest.raises(IdempotencyKeyReused):
        await world.services.changes.change_status(status(appointment, "confirm", used, "b"), STAFF)

    assert world.repository.commits == commits


async def test_the_same_key_from_another_caller_is_refused(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    used = key()
    await world.services.changes.change_status(status(appointment, "confirm", used), STAFF)
    colleague = asking(STAFF.principal.role, "frontdesk-2")

    with pytest.raises(IdempotencyKeyReused):
        await world.services.changes.change_status(status(appointment, "confirm", used), colleague)


async def test_an_edit_retried_writes_once_and_another_edit_with_its_key_is_refused(
    world: World,
) -> None:
    appointment = await world.repository.plant(start=LATER)
    used = key("edit")
    notes = Edit(appointment_id=appointment.id, idempotency_key=used, edit=EditDetails(notes="x"))
    first = await world.services.changes.edit(notes, THE_PATIENT)
    commits = world.repository.commits

    assert await world.services.changes.edit(notes, THE_PATIENT) == first
    assert world.repository.commits == commits
    other = Edit(appointment_id=appointment.id, idempotency_key=used, edit=EditDetails(notes="y"))
    with pytest.raises(IdempotencyKeyReused):
        await world.services.changes.edit(other, THE_PATIENT)
    cleared = Edit(
        appointment_id=appointment.id, idempotency_key=used, edit=EditDetails(notes=None)
    )
    with pytest.raises(IdempotencyKeyReused):
        await world.services.changes.edit(cleared, THE_PATIENT)
    assert world.repository.commits == commits


async def test_entering_in_error_retried_writes_once(world: World) -> None:
    cancelled = await world.repository.plant(start=LATER, status=S.CANCELLED)
    command = EnterInError(appointment_id=cancelled.id, idempotency_key=key("delete"))

    first = await world.services.changes.enter_in_error(command, ADMIN)
    again = await world.services.changes.enter_in_error(command, ADMIN)

    assert again == first
    assert (await events(world, cancelled)).count("appointment.entered_in_error") == 1


async def test_a_key_belongs_to_one_action_of_one_appointment(world: World) -> None:
    one = await world.repository.plant(start=LATER)
    other = await world.repository.plant(start=LATER, doctor_id="doc-hart")
    used = key()

    await world.services.changes.change_status(status(one, "confirm", used), STAFF)
    checked_in = await world.services.changes.change_status(status(one, "check-in", used), STAFF)
    confirmed = await world.services.changes.change_status(status(other, "confirm", used), STAFF)

    assert (checked_in.status, confirmed.status) == (S.CHECKED_IN, S.CONFIRMED)


async def test_without_a_key_a_repeated_request_is_a_new_change(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    confirm = status(appointment, "confirm", None)
    await world.services.changes.change_status(confirm, STAFF)

    with pytest.raises(IllegalTransition, match="CONFIRMED cannot become CONFIRMED"):
        await world.services.changes.change_status(confirm, STAFF)


async def test_a_refused_change_leaves_its_key_unused(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    no_show = status(appointment, "no-show", key("no-show"))
    with pytest.raises(NoShowBeforeStart):
        await world.services.changes.change_status(no_show, STAFF)

    world.now = LATER  # the same request, once the appointment has begun
    recorded = await world.services.changes.change_status(no_show, STAFF)
    assert recorded.status is S.NO_SHOW
