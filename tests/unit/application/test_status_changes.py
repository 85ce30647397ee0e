"""The changes made in one transaction (``Changes``): which statuses each action may leave,
a no-show only once the appointment began, If-Match, editing, entering in error, and how
each change is recorded. A refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.commands import ChangeStatus, Edit, EditDetails, EnterInError, StatusAction
from domain.errors import (
    AppointmentStarted,
    ConcurrencyConflict,
    IllegalTransition,
    NoShowBeforeStart,
)
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import ADMIN, EARLIER, LATER, STAFF, asking

S = AppointmentStatus
# Written out by hand: the statuses each action may change, and what it makes of them.
LEGAL: dict[StatusAction, tuple[frozenset[AppointmentStatus], AppointmentStatus]] = {
    "confirm": (frozenset({S.SCHEDULED}), S.CONFIRMED),
    "check-in": (frozenset({S.SCHEDULED, S.CONFIRMED}), S.CHECKED_IN),
    "complete": (frozenset({S.CHECKED_IN}), S.COMPLETED),
    "no-show": (frozenset({S.SCHEDULED, S.CONFIRMED}), S.NO_SHOW),
}
EVERY = [(action, status) for action in LEGAL for status in AppointmentStatus]


def ids(value: object) -> str:
    return str(value)


@pytest.mark.parametrize(("action", "status"), EVERY, ids=ids)
async def test_an_action_changes_exactly_the_statuses_it_may(
    world: World, action: StatusAction, status: AppointmentStatus
) -> None:
    # A no-show once started (it is refused before); the rest before the start (a
    # confirmation is refused after it).
    start = EARLIER if action == "no-show" else LATER
    appointment = await world.repository.plant(start=start, status=status)
    commits = world.repository.commits
    command = ChangeStatus(appointment_id=appointment.id, action=action)
    allowed, target = LEGAL[action]

    if status in allowed:
        changed = await world.services.changes.change_status(command, STAFF)
        assert (changed.status, changed.version) == (target, appointment.version + 1)
        assert world.repository.commits == commits + 1
    else:
        with pytest.raises(IllegalTransition) as refused:
            await world.services.changes.change_status(command, STAFF)
        assert (refused.value.current, refused.value.target) == (status.value, target.value)
        assert world.repository.commits == commits
        assert await world.repository.get(appointment.id) == appointment


@pytest.mark.parametrize("action", ["check-in", "no-show"])
async def test_after_the_start_the_patient_is_checked_in_or_recorded_as_a_no_show(
    world: World, action: StatusAction
) -> None:
    appointment = await world.repository.plant(start=EARLIER)
    command = ChangeStatus(appointment_id=appointment.id, action=action)
    changed = await world.services.changes.change_status(command, STAFF)
    assert changed.status is LEGAL[action][1]


async def test_after_the_start_an_appointment_is_no_longer_confirmed(world: World) -> None:
    appointment = await world.repository.plant(start=EARLIER)
    commits = world.repository.commits
    command = ChangeStatus(appointment_id=appointment.id, action="confirm")
    with pytest.raises(AppointmentStarted, match="check the patient in or record a no-show"):
        await world.services.changes.change_status(command, STAFF)
    assert world.repository.commits == commits


async def test_a_no_show_is_refused_before_the_start(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    command = ChangeStatus(appointment_id=appointment.id, action="no-show")

    world.now = LATER - timedelta(minutes=1)
    with pytest.raises(NoShowBeforeStart):
        await world.services.changes.change_status(command, STAFF)
    assert await world.repository.get(appointment.id) == appointment

    world.now = LATER  # from the start on
    changed = await world.services.changes.change_status(command, STAFF)
    assert changed.status is S.NO_SHOW


async def test_if_match_with_an_old_version_is_a_conflict_and_changes_nothing(
    world: World,
) -> None:
    appointment = await world.repository.plant(start=LATER)
    stale = ChangeStatus(
        appointment_id=appointment.id, action="confirm", if_match=appointment.version - 1
    )

    with pytest.raises(ConcurrencyConflict, match=f"at version {appointment.version}, not"):
        await world.services.changes.change_status(stale, STAFF)

    assert await world.repository.get(appointment.id) == appointment


async def test_if_match_with_the_current_version_changes_it(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    current = ChangeStatus(
        appointment_id=appointment.id, action="confirm", if_match=appointment.version
    )

    changed = await world.services.changes.change_status(current, STAFF)

    assert (changed.status, changed.version) == (S.CONFIRMED, appointment.version + 1)


async def test_a_change_made_meanwhile_is_never_overwritten(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = await world.repository.plant(start=LATER)
    confirm = ChangeStatus(appointment_id=seen.id, action="confirm")
    await world.services.changes.change_status(confirm, ADMIN)  # someone else, just now

    async def as_read_before(appointment_id: str) -> Appointment | None:
        return seen  # what this request read, before the other change

    monkeypatch.setattr(world.repository, "get", as_read_before)
    check_in = ChangeStatus(appointment_id=seen.id, action="check-in")
    with pytest.raises(ConcurrencyConflict):
        await world.services.changes.change_status(check_in, STAFF)

    assert world.repository.appointments[seen.id].status is S.CONFIRMED


async def test_the_change_records_who_why_and_which_request(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    command = ChangeStatus(appointment_id=appointment.id, action="confirm", reason="called")

    await world.services.changes.change_status(
        command, asking(STAFF.principal.role, "desk-2", "r-7")
    )

    event = (await world.repository.history(appointment.id))[-1]
    assert event.type == "appointment.confirmed"
    assert (event.context.actor, event.context.reason, event.context.request_id) == (
        "staff:desk-2",
        "called",
        "r-7",
    )


async def test_an_edit_changes_only_the_fields_named(world: World) -> None:
    appointment = await world.repository.plant(start=LATER)
    command = Edit(appointment_id=appointment.id, edit=EditDetails(notes="fasting"))

    edited = await world.services.changes.edit(command, STAFF)

    assert (edited.notes, edited.reason, edited.status) == ("fasting", "planted", S.SCHEDULED)
    cleared = await world.services.changes.edit(
        Edit(appointment_id=appointment.id, edit=EditDetails(reason=None)), STAFF
    )
    assert (cleared.notes, cleared.reason) == ("fasting", None)


async def test_an_entered_in_error_record_is_not_edited(world: World) -> None:
    failed = await world.repository.plant(start=LATER, status=S.FAILED)

    with pytest.raises(IllegalTransition, match="FAILED cannot become edited"):
        await world.services.changes.edit(
            Edit(appointment_id=failed.id, edit=EditDetails(notes="x")), STAFF
        )


@pytest.mark.parametrize("status", [S.CANCELLED, S.COMPLETED, S.NO_SHOW], ids=ids)
async def test_a_record_that_holds_no_slot_is_entered_in_error(
    world: World, status: AppointmentStatus
) -> None:
    appointment = await world.repository.plant(start=EARLIER, status=status)

    marked = await world.services.changes.enter_in_error(
        EnterInError(appointment_id=appointment.id), ADMIN
    )

    assert (marked.status, marked.version) == (S.FAILED, appointment.version + 1)
    assert world.repository.appointments[appointment.id] == marked


@pytest.mark.parametrize("status", [S.PENDING, S.SCHEDULED, S.CONFIRMED, S.CHECKED_IN], ids=ids)
async def test_one_that_still_holds_its_slot_must_be_cancelled_first(
    world: World, status: AppointmentStatus
) -> None:
    appointment = await world.repository.plant(start=LATER, status=status)

    with pytest.raises(IllegalTransition) as refused:
        await world.services.changes.enter_in_error(
            EnterInError(appointment_id=appointment.id), ADMIN
        )

    # The detail is what both doors answer.
    assert refused.value.detail.endswith(": it still holds its slot, cancel it first")
    assert await world.repository.get(appointment.id) == appointment


async def test_entering_in_error_twice_is_refused_without_the_hint(world: World) -> None:
    failed = await world.repository.plant(start=LATER, status=S.FAILED)

    with pytest.raises(IllegalTransition) as refused:
        await world.services.changes.enter_in_error(EnterInError(appointment_id=failed.id), ADMIN)

    assert refused.value.detail == "an appointment in status FAILED cannot become entered-in-error"
