"""The Doctor Service steps run twice with the same input, as a retry after a lost answer
or a local activity replayed after a worker crash would: one hold, in one state."""

from __future__ import annotations

import pytest
from temporalio.common import RetryPolicy

from activities.models import HoldAction, PatientCheck
from peers.contracts import HoldStatus
from tests.unit.activities.conftest import ANNA, BEN, Bed, slot
from workflows.policies import PEER_RETRY, UNTIL_DONE


async def test_validate_patient_is_a_read(bed: Bed) -> None:
    check = PatientCheck(patient_id=ANNA, caller=bed.caller)
    await bed.twice(bed.remote.validate_patient, check, PEER_RETRY)
    assert await bed.holds() == []


async def test_check_availability_holds_nothing(bed: Bed) -> None:
    await bed.twice(bed.remote.check_availability, bed.slot_check(slot()), PEER_RETRY)
    assert await bed.holds() == []


async def test_reserve_slot_twice_holds_once(bed: Bed) -> None:
    reservation = bed.reservation(slot())
    first = await bed.twice(bed.remote.reserve_slot, reservation, PEER_RETRY)
    (hold,) = await bed.holds()
    assert (hold.id, hold.status, hold.patient_id) == (first.hold_id, HoldStatus.HELD, ANNA)
    assert hold.start == reservation.start
    assert hold.expires_at == first.expires_at


@pytest.mark.parametrize(
    ("step", "policy", "status"),
    [
        ("confirm_slot", PEER_RETRY, HoldStatus.CONFIRMED),  # a forward step
        ("release_hold", UNTIL_DONE, HoldStatus.RELEASED),  # a compensation
    ],
)
async def test_a_step_on_the_hold_twice_changes_it_once(
    bed: Bed, step: str, policy: RetryPolicy, status: HoldStatus
) -> None:
    action = await bed.held()
    await bed.twice(getattr(bed.remote, step), action, policy)
    (hold,) = await bed.holds()
    assert (hold.id, hold.status) == (action.hold_id, status)


async def test_release_hold_of_a_hold_the_doctor_service_forgot_is_done(bed: Bed) -> None:
    action = HoldAction(hold_id="hold-unknown", caller=bed.caller)
    await bed.run(bed.remote.release_hold, action, UNTIL_DONE)
    assert await bed.holds() == []


async def test_release_slot_twice_releases_the_one_hold(bed: Bed) -> None:
    reservation = bed.reservation(slot())
    held = await bed.run(bed.remote.reserve_slot, reservation, PEER_RETRY)
    await bed.twice(bed.remote.release_slot, reservation)
    (hold,) = await bed.holds()
    assert (hold.id, hold.status) == (held.hold_id, HoldStatus.RELEASED)


async def test_a_released_slot_is_free_again_for_someone_else(bed: Bed) -> None:
    start = slot()
    mine = bed.reservation(start)
    await bed.run(bed.remote.reserve_slot, mine, PEER_RETRY)
    await bed.run(bed.remote.release_slot, mine, UNTIL_DONE)
    theirs = bed.reservation(start, patient_id=BEN, key="another-booking/hold")
    await bed.run(bed.remote.check_availability, bed.slot_check(start, patient_id=None))
    held = await bed.run(bed.remote.reserve_slot, theirs, PEER_RETRY)
    assert [h.id for h in await bed.holds(HoldStatus.HELD)] == [held.hold_id]
