"""check_availability run again (a local activity replayed after a worker crash) meets the
hold its own booking took: the patient's hold on exactly that slot is not in the way. The
reservation after it decides, by its key, whether that hold is this booking's."""

from __future__ import annotations

import pytest

from peers.contracts import HoldStatus
from tests.unit.activities.conftest import ANNA, BEN, Bed, slot
from workflows.policies import PEER_RETRY, UNTIL_DONE


async def test_the_bookings_own_hold_is_not_in_the_way(bed: Bed) -> None:
    start = slot()
    held = await bed.run(bed.remote.reserve_slot, bed.reservation(start), PEER_RETRY)
    await bed.run(bed.remote.check_availability, bed.slot_check(start), PEER_RETRY)
    again = await bed.run(bed.remote.reserve_slot, bed.reservation(start), PEER_RETRY)
    assert again.hold_id == held.hold_id
    assert [h.id for h in await bed.holds()] == [held.hold_id]


async def test_nor_once_it_is_confirmed(bed: Bed) -> None:
    start = slot()
    await bed.run(bed.remote.confirm_slot, await bed.held(start), PEER_RETRY)
    await bed.run(bed.remote.check_availability, bed.slot_check(start), PEER_RETRY)


async def test_the_patients_hold_of_another_booking_is_refused_by_the_reservation(
    bed: Bed,
) -> None:
    """The check lets it pass (the patient holds exactly this slot); the reservation, by
    this booking's key, finds the slot taken."""
    start = slot()
    other = bed.reservation(start, key="the-patients-other-booking/hold")
    await bed.run(bed.remote.reserve_slot, other, PEER_RETRY)
    await bed.run(bed.remote.check_availability, bed.slot_check(start), PEER_RETRY)
    error = await bed.refused(bed.remote.reserve_slot, bed.reservation(start), PEER_RETRY)
    assert (error.type, error.non_retryable) == ("SlotUnavailable", True)


@pytest.mark.parametrize(
    ("checking", "patient_id"),
    [(ANNA, BEN), (None, ANNA)],
    ids=["another-patient", "no-patient-named"],
)
async def test_someone_elses_hold_is_in_the_way(
    bed: Bed, checking: str | None, patient_id: str
) -> None:
    """A check naming no patient (the reschedule's) counts every hold."""
    start = slot()
    await bed.run(bed.remote.reserve_slot, bed.reservation(start, patient_id=patient_id))
    check = bed.slot_check(start, patient_id=checking)
    error = await bed.refused(bed.remote.check_availability, check, PEER_RETRY)
    assert (error.type, error.non_retryable) == ("SlotUnavailable", True)


@pytest.mark.parametrize(
    ("held_minutes", "checked_minutes", "checked_minute"),
    [(15, 30, 0), (30, 15, 0), (30, 15, 15), (15, 15, 15)],
    ids=["longer-than-held", "start-of-held", "inside-held", "next-slot-free"],
)
async def test_only_exactly_that_slot(
    bed: Bed, held_minutes: int, checked_minutes: int, checked_minute: int
) -> None:
    """The patient's hold of another (overlapping) slot is in the way like anyone's; the
    slot next to it is free anyway."""
    await bed.run(bed.remote.reserve_slot, bed.reservation(slot(), minutes=held_minutes))
    check = bed.slot_check(slot(minute=checked_minute), checked_minutes)
    if checked_minute >= held_minutes:
        await bed.run(bed.remote.check_availability, check, PEER_RETRY)
        return
    error = await bed.refused(bed.remote.check_availability, check, PEER_RETRY)
    assert error.type == "SlotUnavailable"


async def test_a_released_or_expired_hold_is_in_nobodys_way(bed: Bed) -> None:
    early, late = slot(hour=9), slot(hour=11)
    released = bed.reservation(early, patient_id=BEN, key="released/hold")
    await bed.run(bed.remote.reserve_slot, released, PEER_RETRY)
    await bed.run(bed.remote.release_slot, released, UNTIL_DONE)
    await bed.run(bed.remote.reserve_slot, bed.reservation(late, patient_id=BEN, key="expired"))
    bed.sim_clock.advance(bed.settings.slot_hold_minutes * 60)
    for start in (early, late):
        await bed.run(bed.remote.check_availability, bed.slot_check(start), PEER_RETRY)
    statuses = sorted(h.status for h in await bed.holds())
    assert statuses == [HoldStatus.EXPIRED, HoldStatus.RELEASED]
