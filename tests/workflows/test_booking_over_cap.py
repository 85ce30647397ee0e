"""A booking staff made over the patient's cap: BookingWorkflow hands the override to
``persist_pending`` (whose event records it), under the step key the API looks for when a
retry of the booking meets the cap (``application.quotas.requested_event_ids``)."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.quotas import requested_event_ids
from domain.events import event_id_for
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_booking_workflow import request
from workflows.booking import BookingWorkflow
from workflows.contracts.booking import workflow_id

ACTOR = "staff:test"  # the caller of test_booking_workflow.request


async def test_the_override_and_the_requested_event_id_reach_persist_pending(
    workflow_env: WorkflowEnvironment,
) -> None:
    world = FakeWorld()
    booking = request(over_patient_cap=True)
    queue = f"q-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[BookingWorkflow],
        activities=world.activities(),
    ):
        await workflow_env.client.execute_workflow(
            BookingWorkflow.run,
            booking,
            id=workflow_id(ACTOR, booking.idempotency_key),  # as the API names the run
            task_queue=queue,
        )

    persisted = world.inputs["persist_pending"]
    assert persisted.over_patient_cap is True
    scoped, _legacy = requested_event_ids(ACTOR, booking.idempotency_key)
    assert event_id_for(persisted.idempotency_key) == scoped
