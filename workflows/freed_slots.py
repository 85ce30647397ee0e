"""How the sagas offer the slots they free to the waitlist: after their commit point (a
cancellation, the old slot of a reschedule) or once a booking whose hold expired is
undone, one activity starts the slot's offer round or tells the running one
(``activities.waitlist.WaitlistActivities.offer_freed_slot``); nobody waiting, nothing
starts.

The saga's change stands whatever happens here: an activity that keeps failing is logged
and marked ``NeedsAttention`` (an operator starts the round by hand, or lets the slot
be), never a reason to fail the saga."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.waitlist import WaitlistActivities
    from workflows.attention import needs_attention
    from workflows.contracts.waitlist import FreedBy, FreedSlot
    from workflows.policies import PEER_RETRY, STEP_TIMEOUT

# Runs recorded before the waitlist offered nothing: they replay without the activity.
OFFERS_FREED_SLOTS = "waitlist-offers"


def freed_slot(
    doctor_id: str | None,
    start: datetime | None,
    end: datetime | None,
    freed_by: FreedBy,
    appointment_id: str,
) -> FreedSlot | None:
    """The slot, if the plan knew it (a plan from a worker of before the waitlist did not)."""
    if doctor_id is None or start is None or end is None:
        return None
    return FreedSlot(
        doctor_id=doctor_id, start=start, end=end, freed_by=freed_by, appointment_id=appointment_id
    )


async def offer_to_the_waitlist(slot: FreedSlot | None) -> None:
    if not workflow.patched(OFFERS_FREED_SLOTS) or slot is None:
        return
    try:
        await workflow.execute_activity_method(
            WaitlistActivities.offer_freed_slot,
            slot,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=PEER_RETRY,
        )
    except ActivityError as error:
        workflow.logger.error("the freed slot %s was not offered: %s", slot.round_id, error)
        needs_attention("offer_freed_slot", error)
