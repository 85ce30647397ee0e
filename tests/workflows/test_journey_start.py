"""The booking saga starts the appointment's journey by a step of its own, once SCHEDULED,
and only when its request carries the journey's rules (runs recorded before that started it
as a child: histories/booking-journey-before-journey-step.json replays). A module of its
own (its own test server): a journey that ends after its booking closed keeps that server's
clock from skipping for good (tests/workflows/conftest.py), so the journey's timers are
tested elsewhere, and the runs that end a journey come last here."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.journey_start import JourneyStarts
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
from workflows.contracts.journey import JourneyRequest
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
    assert "start_journey" not in steps_of(history).values()
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
    [started] = [i for i, step in steps_of(history).items() if step == "start_journey"]
    waits = [
        i
        for i in events(history, "activity_task_scheduled_event_attributes")
        if history.events[i].activity_task_scheduled_event_attributes.activity_type.name
        == "create_invoice_when_billing_is_back"
    ]
    assert waits, "the booking waited on Billing"
    assert started < waits[0], "the journey started before the wait for Billing"
    assert saga.calls[-1] == "record_invoice"


async def test_a_booking_starts_the_appointments_journey_once_by_a_step(
    workflow_env: WorkflowEnvironment,
) -> None:
    """Once SCHEDULED, one step starts the journey, and the saga ends in the workflow task
    that answered the booking: no child's events, no second task."""
    start = local(await days_ahead(workflow_env, 3), 14)
    booking = booking_request(journey=RULES, local_steps=True).model_copy(update={"start": start})
    world = JourneyWorld(scheduled(start), appointment_id=booking.appointment_id)
    queue = new_queue()

    async with worker(workflow_env, world, queue, saga=await local_world(workflow_env, start)):
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

    assert described.typed_search_attributes.get(APPOINTMENT_ID) == booking.appointment_id
    assert (view.start, view.status) == (start, AppointmentStatus.SCHEDULED)
    history = await handle.fetch_history()
    assert not events(history, "start_child_workflow_execution_initiated_event_attributes")
    steps = steps_of(history)
    assert list(steps.values()).count("start_journey") == 1
    [started] = [i for i, step in steps.items() if step == "start_journey"]
    [marked] = [i for i, step in steps.items() if step == "mark_scheduled"]
    assert started > marked  # once SCHEDULED
    # One workflow task: the one that answered the booking also ended the saga.
    assert len(events(history, "workflow_task_completed_event_attributes")) == 1


async def test_a_journey_started_already_is_not_started_again(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The step is idempotent by the journey's id: a journey that exists (a backfill came
    first, or the step's first attempt started it before its answer was lost) stays the
    one, and the booking is made all the same."""
    start = local(await days_ahead(workflow_env, 3), 14)
    booking = booking_request(journey=RULES, local_steps=True).model_copy(update={"start": start})
    world = JourneyWorld(scheduled(start), appointment_id=booking.appointment_id)
    queue = new_queue()
    request = JourneyRequest(
        appointment_id=booking.appointment_id,
        patient_id=booking.patient_id,
        doctor_id=booking.doctor_id,
        facts=world.facts,
        rules=RULES,
    )
    starts = JourneyStarts(workflow_env.client, queue)

    async with worker(workflow_env, world, queue, saga=await local_world(workflow_env, start)):
        assert await ActivityEnvironment().run(starts.start_journey, request) is True
        first = await workflow_env.client.get_workflow_handle(
            journey.workflow_id(booking.appointment_id)
        ).describe()
        handle = await workflow_env.client.start_workflow(
            BookingWorkflow.run, booking, id=f"booking-{uuid.uuid4()}", task_queue=queue
        )
        assert status_of(await handle.result()) == "SCHEDULED"
        assert await ActivityEnvironment().run(starts.start_journey, request) is False
        child = workflow_env.client.get_workflow_handle_for(
            AppointmentJourneyWorkflow.run, journey.workflow_id(booking.appointment_id)
        )
        assert (await child.describe()).run_id == first.run_id
        await tell(child, world.change(status=AppointmentStatus.CANCELLED))
        assert (await child.result()).status is AppointmentStatus.CANCELLED
    assert "start_journey" in steps_of(await handle.fetch_history()).values()


async def local_world(env: WorkflowEnvironment, start: datetime) -> FakeWorld:
    """The saga's fakes for local steps: a local step's attempt time is the worker's clock,
    which the test server's (skipped ahead by earlier tests) has left behind, so the fake
    hold lives 10 minutes by the server's clock (as in test_local_steps)."""
    world = FakeWorld(start=start)
    world.hold_lifetime = await env.get_current_time() - datetime.now(UTC) + timedelta(minutes=10)
    return world


def steps_of(history: WorkflowHistory) -> dict[int, str]:
    """The steps (activities, local or not) a run scheduled, by event index."""
    found: dict[int, str] = {}
    for i, event in enumerate(history.events):
        if event.HasField("activity_task_scheduled_event_attributes"):
            found[i] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":  # its data names the step
                [data] = marker.details["data"].payloads
                found[i] = json.loads(data.data)["activity_type"]
    return found
