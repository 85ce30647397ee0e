"""After a committed change the lifecycle tells the appointment's journey (``JourneyNews``)
and counts the change (``LifecycleCounts``): only a committed change, never a retry
answered again, and never so that a failure of either fails the change, which is made."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.access import Channel, Requester
from application.commands import ChangeStatus, Edit, EditDetails, EnterInError, StatusAction
from domain.status import AppointmentStatus
from tests.fakes import FakeCounts, World
from tests.unit.application.support import ADMIN, EARLIER, LATER, STAFF, key

S = AppointmentStatus


@pytest.mark.parametrize(
    ("action", "status", "target"),
    [
        ("confirm", S.SCHEDULED, S.CONFIRMED),
        ("check-in", S.CONFIRMED, S.CHECKED_IN),
        ("complete", S.CHECKED_IN, S.COMPLETED),
        ("no-show", S.SCHEDULED, S.NO_SHOW),
    ],
)
async def test_a_status_change_tells_the_journey_its_new_facts(
    world: World, action: StatusAction, status: AppointmentStatus, target: AppointmentStatus
) -> None:
    start = EARLIER if action == "no-show" else LATER
    planted = await world.repository.plant(start=start, status=status)

    changed = await world.services.changes.change_status(
        ChangeStatus(appointment_id=planted.id, action=action), STAFF
    )

    assert world.news.told == [await world.repository.get(planted.id)]
    assert (world.news.told[0].status, world.news.told[0].version) == (target, changed.version)


async def test_a_check_in_tells_the_journey_so_it_drops_the_no_show_check(world: World) -> None:
    planted = await world.repository.plant(start=LATER)

    await world.services.changes.change_status(
        ChangeStatus(appointment_id=planted.id, action="check-in"), STAFF
    )

    [told] = world.news.told
    assert (told.id, told.status, told.start) == (planted.id, S.CHECKED_IN, LATER)


async def test_entering_in_error_tells_the_journey_and_an_edit_does_not(world: World) -> None:
    edited = await world.repository.plant(start=LATER)
    await world.services.changes.edit(
        Edit(appointment_id=edited.id, edit=EditDetails(notes="bring the x-ray")), STAFF
    )
    assert world.news.told == []

    cancelled = await world.repository.plant(start=LATER + timedelta(hours=1), status=S.CANCELLED)
    await world.services.changes.enter_in_error(EnterInError(appointment_id=cancelled.id), ADMIN)

    assert [(a.id, a.status) for a in world.news.told] == [(cancelled.id, S.FAILED)]


async def test_a_retry_answered_again_tells_and_counts_nothing_twice(world: World) -> None:
    planted = await world.repository.plant(start=LATER)
    confirm = ChangeStatus(appointment_id=planted.id, action="confirm", idempotency_key=key())

    await world.services.changes.change_status(confirm, STAFF)
    await world.services.changes.change_status(confirm, STAFF)

    assert len(world.news.told) == 1
    assert isinstance(world.counts, FakeCounts)
    assert world.counts.counted == [(S.CONFIRMED, "rest")]


async def test_a_journey_that_cannot_be_told_never_fails_the_change(world: World) -> None:
    world.news.failing = True
    planted = await world.repository.plant(start=LATER)

    checked_in = await world.services.changes.change_status(
        ChangeStatus(appointment_id=planted.id, action="check-in"), STAFF
    )

    assert checked_in.status is S.CHECKED_IN
    stored = await world.repository.get(planted.id)
    assert stored is not None
    assert stored.status is S.CHECKED_IN


async def test_a_counter_that_breaks_never_fails_the_change_and_the_journey_is_still_told(
    world: World,
) -> None:
    world.counts = FakeCounts(failing=True)
    planted = await world.repository.plant(start=LATER)

    confirmed = await world.services.changes.change_status(
        ChangeStatus(appointment_id=planted.id, action="confirm"), STAFF
    )

    assert confirmed.status is S.CONFIRMED
    assert [a.status for a in world.news.told] == [S.CONFIRMED]


async def test_a_change_is_counted_by_the_channel_it_came_through(world: World) -> None:
    planted = await world.repository.plant(start=LATER)
    by_graphql = Requester(STAFF.principal, "req-1", Channel.GRAPHQL)

    await world.services.changes.change_status(
        ChangeStatus(appointment_id=planted.id, action="confirm"), by_graphql
    )

    assert isinstance(world.counts, FakeCounts)
    assert world.counts.counted == [(S.CONFIRMED, "graphql")]
