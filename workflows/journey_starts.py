"""How an appointment's journey (workflows/journey.py) is started from outside a workflow:
by the booking saga's step (activities/journey_start.py) and by the backfill alike.

Client code: no workflow imports this module."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.contracts import journey
from workflows.contracts.journey import JourneyRequest
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, PATIENT_ID


async def start_journey_run(
    client: Client, task_queue: str, request: JourneyRequest, *, eager: bool = False
) -> bool:
    """Start the journey of ``request``'s appointment; False if it exists already. Its
    workflow id is the appointment's and is never reused (REJECT_DUPLICATE, also once the
    journey ended), so starting it twice starts it once. ``eager``: the server may hand the
    journey's first task straight back to a worker of this client, skipping its queue."""
    try:
        await client.start_workflow(
            journey.WORKFLOW,
            request,
            id=journey.workflow_id(request.appointment_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(APPOINTMENT_ID, request.appointment_id),
                    SearchAttributePair(PATIENT_ID, request.patient_id),
                    SearchAttributePair(DOCTOR_ID, request.doctor_id),
                ]
            ),
            request_eager_start=eager,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
