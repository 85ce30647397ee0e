"""How the sagas start an appointment's journey and tell it what they changed.

The booking saga starts the journey when the appointment first becomes SCHEDULED, by a
step of its own (``activities/journey_start.py``, a local one with the saga's other steps):
the step's result is recorded in the saga's history, so a replayed or retried task does
not start it again, and the step itself is idempotent by the journey's id. The saga then
ends in the workflow task that answers the booking. Runs recorded before (issue #18) start
the journey as a child workflow (parent close policy ABANDON), and replay so: the child's
start and its started event, then a second workflow task only to end the saga, were a
third of the Temporal server's work per booking.

The cancellation and reschedule sagas signal the journey after their commit point. A
journey that does not exist (an appointment booked before journeys, not yet backfilled)
or has ended is no error: the signal is a hint, and the journey's activities read the
stored state before they act."""

from __future__ import annotations

from datetime import UTC

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.journey_start import JourneyStarts
    from activities.models import AppointmentSnapshot
    from domain.status import AppointmentStatus
    from workflows.attention import needs_attention
    from workflows.contracts import journey
    from workflows.contracts.booking import BookingRequest
    from workflows.contracts.journey import Facts, JourneyRequest
    from workflows.policies import PEER_RETRY
    from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, PATIENT_ID
    from workflows.steps import forward

# Runs recorded before journeys existed neither start nor signal one: they replay so.
STARTS_JOURNEY = "appointment-journey"
JOURNEY_BY_STEP = "journey-started-by-a-step"
TELLS_JOURNEY = "journey-news"


def facts_of(snapshot: AppointmentSnapshot) -> Facts | None:
    if snapshot.start is None:
        return None
    return Facts(
        status=AppointmentStatus(snapshot.status),
        start=snapshot.start.astimezone(UTC),
        version=snapshot.version,
        reminders_sent=snapshot.reminders_sent,
    )


async def start_journey(request: BookingRequest, scheduled: AppointmentSnapshot) -> None:
    """The journey of the appointment this booking has just made SCHEDULED."""
    facts = facts_of(scheduled)
    if request.journey is None or facts is None or not workflow.patched(STARTS_JOURNEY):
        return
    started = JourneyRequest(
        appointment_id=request.appointment_id,
        patient_id=request.patient_id,
        doctor_id=request.doctor_id,
        facts=facts,
        rules=request.journey,
    )
    if workflow.patched(JOURNEY_BY_STEP):
        try:
            await forward(JourneyStarts.start_journey, started, PEER_RETRY, request.local_steps)
        except ActivityError as error:
            # As below: the booking stands; the backfill starts a journey that is missing.
            needs_attention("start_journey", error)
        return
    try:
        await workflow.start_child_workflow(
            journey.WORKFLOW,
            started,
            id=journey.workflow_id(request.appointment_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(APPOINTMENT_ID, request.appointment_id),
                    SearchAttributePair(PATIENT_ID, request.patient_id),
                    SearchAttributePair(DOCTOR_ID, request.doctor_id),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        # Started already (a backfill that came first): that journey is this one.
        workflow.logger.info("journey of %s runs already", request.appointment_id)
    except FailureError as error:
        # The booking stands (past its commit point): a journey that could not start (say
        # NextActionAt is not registered) is left to an operator and to the backfill,
        # never a reason to fail a booking that is made.
        needs_attention("start_journey", error)


async def tell_journey(snapshot: AppointmentSnapshot) -> None:
    """After a saga's commit point: the journey learns the appointment's new facts."""
    facts = facts_of(snapshot)
    if facts is None or not workflow.patched(TELLS_JOURNEY):
        return
    handle = workflow.get_external_workflow_handle(journey.workflow_id(snapshot.appointment_id))
    try:
        await handle.signal(journey.CHANGED_SIGNAL, facts)
    except FailureError as error:
        workflow.logger.info("no journey of %s to tell: %s", snapshot.appointment_id, error)
