"""The booking saga starts the appointment's journey as its child, once SCHEDULED, and only
when its request carries the journey's rules. A module of its own (its own test server):
a child that ends after its parent closed keeps that server's clock from skipping for
good (tests/workflows/conftest.py), so the journey's timers are tested elsewhere, and
the run that ends a child comes last here."""

from __future__ import annotations

import uuid

import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.status import AppointmentStatus
from tests.workflows.fakes import FakeWorld, transient
from tests.workflows.journey_fakes import JourneyWorld
from tests.workflows.test_booking_workflow import request as booking_request
from tests.workflows.test_journey import (
    RULES,
    days_ahead,
    events,
    local,
    new_queue,
    scheduled,
    status_of,
    tell,
    worker,
)
from workflows.booking import BookingWorkflow
from workflows.contracts import journey
from workflows.journey import AppointmentJourneyWorkflow
from workflows.search_attributes import APPOINTMENT_ID


async def test_a_booking_without_journey_rules_starts_no_journey(
    workflow_env: WorkflowEnvironment,
) -> None:
    start = local(await days_ahead(workflow_env, 3), 14)
    booking = booking_request().model_copy(update={"start": start})
    world = JourneyWorld(scheduled(start), appointment_id=booking.appointment_id)
    queue = new_queue()

    async with worker(workflow_env, world, queue, saga=FakeWorld(start=start)):
        handle = await workflow_env.client.start_workflow(
            BookingWorkflow.run, booking, id=f"booking-{uuid.uuid4()}", task_queue=queue
        )
        assert status_of(await handle.result()) == "SCHEDULED"

    history = await handle.fetch_history()
    assert not events(history, "start_child_workflow_execution_initiated_event_attributes")
    child = workflow_env.client.get_workflow_handle(journey.workflow_id(booking.appointment_id))
    with pytest.raises(RPCError) as caught:
        await child.describe()
    assert caught.value.status is RPCStatusCode.NOT_FOUND


async def test_a_booking_waiting_on_billing_has_its_journey_before_the_invoice(
    workflow_env: WorkflowEnvironment,
) -> None:
    """Billing unreachable under the policy "retry": the booking is answered SCHEDULED and
    waits for Billing; its reminders do not wait with it."""
    start = local(await days_ahead(workflow_env, 3), 14)
    booking = booking_request(
        journey=RULES, billing_outage_policy="retry", billing_retry_max_interval_seconds=30.0
    ).model_copy(update={"start": start})
    world = JourneyWorld(scheduled(start), appointment_id=booking.appointment_id)
    saga = FakeWorld(start=start)
    saga.always_fail["create_invoice"] = transient("billing: HTTP 503")
    saga.failures["create_invoice_when_billing_is_back"] = [transient() for _ in range(3)]
    queue = new_queue()

    async with worker(workflow_env, world, queue, saga=saga):
        handle = await workflow_env.client.start_workflow(
            BookingWorkflow.run, booking, id=f"booking-{uuid.uuid4()}", task_queue=queue
        )
        assert status_of(await handle.result()) == "SCHEDULED"
        child = workflow_env.client.get_workflow_handle_for(
            AppointmentJourneyWorkflow.run, journey.workflow_id(booking.appointment_id)
        )
        await tell(child, world.change(status=AppointmentStatus.CANCELLED))
        assert (await child.result()).status is AppointmentStatus.CANCELLED

    history = await handle.fetch_history()
    [started] = events(history, "start_child_workflow_execution_initiated_event_attributes")
    waits = [
        i
        for i in events(history, "activity_task_scheduled_event_attributes")
        if history.events[i].activity_task_scheduled_event_attributes.activity_type.name
        == "create_invoice_when_billing_is_back"
    ]
    assert waits, "the booking waited on Billing"
    assert started < waits[0], "the journey started before the wait for Billing"
    assert saga.calls[-1] == "record_invoice"


async def test_a_booking_starts_the_appointments_journey_once_as_its_child(
    workflow_env: WorkflowEnvironment,
) -> None:
    start = local(await days_ahead(workflow_env, 3), 14)
    booking = booking_request(journey=RULES).model_copy(update={"start": start})
    world = JourneyWorld(scheduled(start), appointment_id=booking.appointment_id)
    queue = new_queue()

    async with worker(workflow_env, world, queue, saga=FakeWorld(start=start)):
        handle = await workflow_env.client.start_workflow(
            BookingWorkflow.run, booking, id=f"booking-{uuid.uuid4()}", task_queue=queue
        )
        assert status_of(await handle.result()) == "SCHEDULED"
        child = workflow_env.client.get_workflow_handle_for(
            AppointmentJourneyWorkflow.run, journey.workflow_id(booking.appointment_id)
        )
        described = await child.describe()
        view = await child.query(AppointmentJourneyWorkflow.view)
        await tell(child, world.change(status=AppointmentStatus.CANCELLED))
        assert (await child.result()).status is AppointmentStatus.CANCELLED

    assert described.parent_id == handle.id
    assert described.typed_search_attributes.get(APPOINTMENT_ID) == booking.appointment_id
    assert (view.start, view.status) == (start, AppointmentStatus.SCHEDULED)
    history = await handle.fetch_history()
    [started] = events(history, "start_child_workflow_execution_initiated_event_attributes")
    attributes = history.events[started].start_child_workflow_execution_initiated_event_attributes
    assert attributes.workflow_id == journey.workflow_id(booking.appointment_id)
    assert attributes.workflow_type.name == journey.WORKFLOW
    [scheduled_step] = [
        i
        for i in events(history, "activity_task_scheduled_event_attributes")
        if history.events[i].activity_task_scheduled_event_attributes.activity_type.name
        == "mark_scheduled"
    ]
    assert started > scheduled_step  # once SCHEDULED
