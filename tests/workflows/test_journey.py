"""AppointmentJourneyWorkflow on the time-skipping test server: each reminder once at its
instant (quiet hours, short notice, the days the clocks change), the no-show with its fee,
and what the lifecycle tells the journey (a reschedule, a check-in, a cancellation; a late
signal, a lost one). The fakes (journey_fakes.py) record the test server's time each step
was scheduled at: a timer's step is scheduled in the minute it fires, and every planned
instant is on the minute, so each instant is compared to the minute, never measured.

Also: the booking saga starts the journey as its child, once; the cancellation and
reschedule sagas tell it what they changed, and succeed when there is no journey."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.common.v1 import SearchAttributes, WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.converter import decode_typed_search_attributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workflows.journey
from activities.journey_start import JourneyStarts
from domain.events import EventContext
from domain.journey import NextAction
from domain.status import AppointmentStatus
from tests.waiting import eventually_async
from tests.workflows.fakes import FakeWorld
from tests.workflows.journey_fakes import JourneyWorld, definitions, real_journey_activities
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.contracts import journey
from workflows.contracts.booking import BookingOutcome
from workflows.contracts.cancellation import CancellationOutcome, CancellationRequest
from workflows.contracts.journey import Facts, JourneyOutcome, JourneyRequest, Rules
from workflows.contracts.reschedule import RescheduleOutcome, RescheduleRequest
from workflows.contracts.saga import SagaRejected
from workflows.journey import AppointmentJourneyWorkflow
from workflows.reschedule import RescheduleWorkflow
from workflows.search_attributes import NEXT_ACTION_AT

BERLIN = ZoneInfo("Europe/Berlin")
# The defaults: reminders 1440 and 120 minutes before, quiet hours 21:00-08:00 Berlin
# time, the no-show check 15 minutes after the start.
RULES = Rules()
GRACE = timedelta(minutes=15)
# Reminders are offsets of real time (UTC), on the days the clocks change too.
DAY, TWO_HOURS, MINUTE = timedelta(days=1), timedelta(hours=2), timedelta(minutes=1)
WORKFLOWS = [AppointmentJourneyWorkflow, BookingWorkflow, CancellationWorkflow, RescheduleWorkflow]
CALLER = EventContext(actor="staff:test", request_id="req-1")

Journey = WorkflowHandle[AppointmentJourneyWorkflow, JourneyOutcome]
NULL = b"binary/null"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` on ``day`` in Berlin, as a UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


async def days_ahead(env: WorkflowEnvironment, days: int) -> date:
    """The Berlin date ``days`` after the test server's today (its clock moves on with
    every test of the module)."""
    now = await env.get_current_time()
    return now.astimezone(BERLIN).date() + timedelta(days=days)


async def sleep_until(env: WorkflowEnvironment, instant: datetime) -> None:
    """Skip the test server's clock to ``instant``, firing the timers on the way."""
    await env.sleep(instant - await env.get_current_time())


def scheduled(start: datetime, version: int = 2) -> Facts:
    return Facts(status=AppointmentStatus.SCHEDULED, start=start, version=version)


def new_queue() -> str:
    return f"q-{uuid.uuid4()}"


@asynccontextmanager
async def worker(
    env: WorkflowEnvironment,
    world: JourneyWorld,
    queue: str,
    saga: FakeWorld | None = None,
    runner: WorkflowRunner | None = None,
    sticky: bool = True,
) -> AsyncIterator[None]:
    """A worker of the journey and the sagas; the journey's fakes of ``world``, and with
    ``saga`` the sagas' fakes (Billing's steps then come from ``saga``). Not ``sticky``:
    it keeps no run cached, so no task is sent to its own (sticky) queue once it stopped
    (a real server falls back to the shared queue after a timeout; the test server never
    does)."""
    activities = world.activities(peers=saga is None) + (saga.activities() if saga else [])
    if saga is not None:  # the booking saga starts journeys through the server itself
        activities += JourneyStarts(env.client, queue).all()
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=activities,
        workflow_runner=runner or SandboxedWorkflowRunner(),
        max_cached_workflows=1000 if sticky else 0,  # 1000: the default
    ):
        yield


async def start_journey(
    env: WorkflowEnvironment, world: JourneyWorld, queue: str, facts: Facts | None = None
) -> Journey:
    """The journey of ``world``'s appointment, started knowing ``facts`` (by default what
    the store holds now)."""
    return await env.client.start_workflow(
        AppointmentJourneyWorkflow.run,
        JourneyRequest(
            appointment_id=world.appointment_id,
            patient_id=world.patient_id,
            doctor_id="doc-1",
            facts=facts or world.facts,
            rules=RULES,
        ),
        id=journey.workflow_id(world.appointment_id),
        task_queue=queue,
    )


@asynccontextmanager
async def journey_running(
    env: WorkflowEnvironment,
    world: JourneyWorld,
    facts: Facts | None = None,
    runner: WorkflowRunner | None = None,
) -> AsyncIterator[Journey]:
    queue = new_queue()
    async with worker(env, world, queue, runner=runner):
        yield await start_journey(env, world, queue, facts)


async def journey_of(env: WorkflowEnvironment, world: JourneyWorld) -> JourneyOutcome:
    async with journey_running(env, world) as handle:
        return await handle.result()


async def tell(handle: Journey, facts: Facts) -> None:
    await handle.signal(AppointmentJourneyWorkflow.changed, facts)


async def next_action_at(env: WorkflowEnvironment, handle: Journey) -> datetime | None:
    """NextActionAt, as the Web UI lists it. The test server keeps an unset attribute as a
    null payload, which describe() cannot decode (a real server drops it): read raw."""
    described = await env.client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=env.client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    kept = {name: value for name, value in fields.items() if value.metadata["encoding"] != NULL}
    return decode_typed_search_attributes(SearchAttributes(indexed_fields=kept)).get(NEXT_ACTION_AT)


async def shows_next_action_at(
    env: WorkflowEnvironment, handle: Journey, instant: datetime
) -> None:
    async def shown() -> bool:
        return await next_action_at(env, handle) == instant

    await eventually_async(shown, 10.0, f"NextActionAt {instant}")


def events(history: WorkflowHistory, kind: str) -> list[int]:
    """The positions of the events of ``kind`` (their attributes field's name)."""
    return [i for i, event in enumerate(history.events) if event.WhichOneof("attributes") == kind]


def status_of(
    outcome: BookingOutcome | CancellationOutcome | RescheduleOutcome | SagaRejected,
) -> str:
    assert not isinstance(outcome, SagaRejected), f"rejected: {outcome}"
    return outcome.status


def test_the_fakes_have_the_real_activities_names_and_inputs() -> None:
    world = JourneyWorld(scheduled(datetime(2030, 1, 1, tzinfo=UTC)))
    assert definitions(*world.activities()) == real_journey_activities()


# --- reminders ---------------------------------------------------------------------------


async def test_each_reminder_fires_once_at_its_instant_then_the_no_show_is_recorded_with_its_fee(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    world = JourneyWorld(scheduled(start))

    outcome = await journey_of(workflow_env, world)

    assert outcome.status is AppointmentStatus.NO_SHOW
    assert world.reminders() == [
        (1440, start, start - DAY),
        (120, start, start - TWO_HOURS),
    ]
    planned = RULES.rules().reminders(start)
    assert [(r.offset_minutes, r.at) for r in planned] == [
        (offset, at) for offset, _, at in world.reminders()
    ]
    assert [call.name for call in world.calls] == [
        "send_reminder",
        "send_reminder",
        "plan_no_show",
        "issue_fee",
        "record_no_show",
    ]
    [plan] = world.of("plan_no_show")
    assert plan.minute == start + GRACE
    [fee] = world.of("issue_fee")
    assert fee.arg.amount_cents == 2500
    assert fee.arg.caller.actor == journey.ACTOR
    assert journey.workflow_id(world.appointment_id) in fee.arg.idempotency_key
    assert start.isoformat() in fee.arg.idempotency_key  # a fee per start
    [record] = world.of("record_no_show")
    assert (record.arg.start, record.arg.fee_invoice_id) == (start, "inv-no-show")
    assert world.facts.status is AppointmentStatus.NO_SHOW


async def test_a_reminder_due_in_quiet_hours_fires_the_evening_before(
    workflow_env: WorkflowEnvironment,
) -> None:
    """09:00: two hours before is 07:00, inside 21:00-08:00: it fires at 20:59 the evening
    before, after the 24 h reminder."""
    day = await days_ahead(workflow_env, 3)
    start = local(day, 9)
    world = JourneyWorld(scheduled(start))

    await journey_of(workflow_env, world)

    eve = day - timedelta(days=1)
    assert world.reminders() == [(1440, start, start - DAY), (120, start, local(eve, 20, 59))]


async def test_a_booking_made_three_hours_ahead_gets_no_24_hour_reminder(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 1)
    await sleep_until(workflow_env, local(day, 11))
    start = local(day, 14)
    world = JourneyWorld(scheduled(start))

    outcome = await journey_of(workflow_env, world)

    assert world.reminders() == [(120, start, start - TWO_HOURS)]
    assert outcome.status is AppointmentStatus.NO_SHOW


@pytest.mark.parametrize("month", [3, 10], ids=["spring-forward", "fall-back"])
async def test_the_24_hour_reminder_on_the_morning_the_clocks_changed_fires_24_hours_before(
    workflow_env: WorkflowEnvironment, month: int
) -> None:
    """Europe's clocks change on the last Sunday of March and of October; an appointment
    at 09:00 that morning gets its 1440-minute reminder exactly 24 h earlier: 08:00 the
    day before in spring (23 h of wall-clock time), 10:00 in autumn."""
    now = await workflow_env.get_current_time()
    day = clocks_change(month, after=now + timedelta(days=2))
    eve = day - timedelta(days=1)
    assert BERLIN.utcoffset(datetime.combine(eve, time(12))) != BERLIN.utcoffset(
        datetime.combine(day, time(12))
    )
    start = local(day, 9)
    world = JourneyWorld(scheduled(start))

    await journey_of(workflow_env, world)

    [(offset, _, at), (quiet_offset, _, quiet_at)] = world.reminders()
    assert (offset, at) == (1440, start - timedelta(hours=24))
    assert at.astimezone(BERLIN).time() == time(8 if month == 3 else 10)
    assert (quiet_offset, quiet_at) == (120, local(eve, 20, 59))  # 07:00 is quiet


def clocks_change(month: int, after: datetime) -> date:
    """The first last-Sunday-of-``month`` (March or October) after ``after``."""
    year = after.year
    while True:
        last = date(year, month + 1, 1) - timedelta(days=1)
        sunday = last - timedelta(days=(last.weekday() - 6) % 7)
        if local(sunday, 0) > after:
            return sunday
        year += 1


# --- what the lifecycle tells the journey -------------------------------------------------


async def test_a_reschedule_moves_every_timer_to_the_new_time(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The 24 h reminder of the old time was sent; after the move, the new time gets both
    of its own, the old time's 2 h reminder never fires, and the no-show check is the new
    time's."""
    day = await days_ahead(workflow_env, 3)
    old, new = local(day, 14), local(day + timedelta(days=2), 11)
    world = JourneyWorld(scheduled(old))

    async with journey_running(workflow_env, world) as handle:
        await sleep_until(workflow_env, old - DAY + MINUTE)
        await world.called("send_reminder")
        await tell(handle, world.change(start=new, reminders_sent=()))
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.NO_SHOW
    assert world.reminders() == [
        (1440, old, old - DAY),
        (1440, new, new - DAY),
        (120, new, new - TWO_HOURS),
    ]
    [plan] = world.of("plan_no_show")
    assert (plan.arg.start, plan.minute) == (new, new + GRACE)
    [record] = world.of("record_no_show")
    assert record.arg.start == new
    assert new.isoformat() in world.of("issue_fee")[0].arg.idempotency_key


async def test_a_cancellation_ends_the_journey_and_nothing_fires_after_it(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    world = JourneyWorld(scheduled(start))

    async with journey_running(workflow_env, world) as handle:
        await sleep_until(workflow_env, start - DAY + MINUTE)
        await world.called("send_reminder")
        await tell(handle, world.change(status=AppointmentStatus.CANCELLED))
        outcome = await handle.result()
        await sleep_until(workflow_env, start + timedelta(days=2))  # past every old timer

    assert outcome.status is AppointmentStatus.CANCELLED
    assert [call.name for call in world.calls] == ["send_reminder"]
    assert await next_action_at(workflow_env, handle) is None


async def test_a_check_in_prevents_the_no_show_and_completion_ends_the_journey(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    world = JourneyWorld(scheduled(start))

    async with journey_running(workflow_env, world) as handle:
        await sleep_until(workflow_env, start - TWO_HOURS + MINUTE)
        await world.called("send_reminder", 2)
        await tell(handle, world.change(status=AppointmentStatus.CHECKED_IN))
        await sleep_until(workflow_env, start + GRACE + timedelta(hours=1))
        view = await handle.query(AppointmentJourneyWorkflow.view)
        assert (view.status, view.next_action) == (AppointmentStatus.CHECKED_IN, None)
        await tell(handle, world.change(status=AppointmentStatus.COMPLETED))
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.COMPLETED
    assert [call.name for call in world.calls] == ["send_reminder", "send_reminder"]


async def test_a_check_in_whose_signal_was_lost_still_prevents_the_no_show(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The no-show check reads the store: checked in, the no-show no longer applies."""
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    world = JourneyWorld(scheduled(start))

    async with journey_running(workflow_env, world) as handle:
        await sleep_until(workflow_env, start - TWO_HOURS + MINUTE)
        await world.called("send_reminder", 2)
        world.change(status=AppointmentStatus.CHECKED_IN)  # no signal
        await sleep_until(workflow_env, start + GRACE + MINUTE)
        await world.called("plan_no_show")
        await tell(handle, world.change(status=AppointmentStatus.COMPLETED))
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.COMPLETED
    assert [call.name for call in world.calls] == ["send_reminder", "send_reminder", "plan_no_show"]


async def test_a_late_signal_of_an_older_version_is_ignored(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The appointment was confirmed (version 3), then moved (version 4); the move's signal
    arrives first, the confirmation's after it: the journey keeps the new time."""
    day = await days_ahead(workflow_env, 3)
    old, new = local(day, 14), local(day + timedelta(days=1), 11)
    world = JourneyWorld(scheduled(old))

    async with journey_running(workflow_env, world) as handle:
        confirmed = world.change(status=AppointmentStatus.CONFIRMED)
        moved = world.change(start=new)
        await tell(handle, moved)
        await tell(handle, confirmed)
        outcome = await handle.result()
        view = await handle.query(AppointmentJourneyWorkflow.view)

    assert outcome.status is AppointmentStatus.NO_SHOW
    assert view.start == new
    assert {start for _, start, _ in world.reminders()} == {new}
    assert [offset for offset, _, _ in world.reminders()] == [1440, 120]
    assert world.of("record_no_show")[0].arg.start == new


async def test_a_reschedule_whose_signal_was_lost_is_caught_up_at_the_next_timer(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The store moved the appointment but the journey was not told: the old time's first
    reminder finds the new time, sends nothing, and the journey plans the new time's."""
    day = await days_ahead(workflow_env, 3)
    old, new = local(day, 14), local(day + timedelta(days=2), 11)
    world = JourneyWorld(scheduled(old))
    knew = world.facts
    world.change(start=new)  # no signal

    async with journey_running(workflow_env, world, facts=knew) as handle:
        outcome = await handle.result()
        view = await handle.query(AppointmentJourneyWorkflow.view)

    assert outcome.status is AppointmentStatus.NO_SHOW
    assert world.reminders() == [
        (1440, old, old - DAY),  # found the new time: not sent
        (1440, new, new - DAY),
        (120, new, new - TWO_HOURS),
    ]
    assert world.facts.reminders_sent == (1440, 120)
    [plan] = world.of("plan_no_show")
    assert (plan.arg.start, plan.minute) == (new, new + GRACE)
    assert view.start == new


# --- the no-show --------------------------------------------------------------------------


async def test_a_no_show_fee_is_voided_when_the_patient_was_checked_in_meanwhile(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    world = JourneyWorld(scheduled(start), checked_in_meanwhile=True)

    async with journey_running(workflow_env, world) as handle:
        await sleep_until(workflow_env, start + GRACE + MINUTE)
        await world.called("void_invoice")
        await tell(handle, world.change(status=AppointmentStatus.COMPLETED))
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.COMPLETED
    [fee], [record], [void] = (world.of(n) for n in ("issue_fee", "record_no_show", "void_invoice"))
    assert record.arg.fee_invoice_id == "inv-no-show"
    assert void.arg.idempotency_key == fee.arg.idempotency_key
    assert world.facts.status is AppointmentStatus.COMPLETED


async def test_no_fee_is_charged_when_the_no_show_fee_is_zero(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 3)
    world = JourneyWorld(scheduled(local(day, 14)), fee_cents=0)

    outcome = await journey_of(workflow_env, world)

    assert outcome.status is AppointmentStatus.NO_SHOW
    assert not world.of("issue_fee")
    [record] = world.of("record_no_show")
    assert record.arg.fee_invoice_id is None


# --- durable, visible, small --------------------------------------------------------------


async def test_a_worker_restart_between_timers_fires_nothing_twice(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    world = JourneyWorld(scheduled(start))
    queue = new_queue()

    async with worker(workflow_env, world, queue, sticky=False):
        handle = await start_journey(workflow_env, world, queue)
        await sleep_until(workflow_env, start - DAY + MINUTE)
        await world.called("send_reminder")
    async with worker(workflow_env, world, queue):
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.NO_SHOW
    assert [offset for offset, _, _ in world.reminders()] == [1440, 120]
    assert [call.name for call in world.calls][2:] == [
        "plan_no_show",
        "issue_fee",
        "record_no_show",
    ]


async def test_next_action_at_and_the_query_show_the_next_timer_and_are_cleared_at_the_end(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    first, second = start - DAY, start - TWO_HOURS
    world = JourneyWorld(scheduled(start))

    async with journey_running(workflow_env, world) as handle:
        await shows_next_action_at(workflow_env, handle, first)
        view = await handle.query(AppointmentJourneyWorkflow.view)
        assert (view.start, view.status) == (start, AppointmentStatus.SCHEDULED)
        assert (view.next_action, view.next_action_at) == (NextAction.REMINDER, first)
        assert view.reminders_handled == ()

        await sleep_until(workflow_env, first + MINUTE)
        await world.called("send_reminder")
        await shows_next_action_at(workflow_env, handle, second)
        view = await handle.query(AppointmentJourneyWorkflow.view)
        assert (view.next_action_at, view.reminders_handled) == (second, (1440,))

        await sleep_until(workflow_env, second + MINUTE)
        await world.called("send_reminder", 2)
        await shows_next_action_at(workflow_env, handle, start + GRACE)
        view = await handle.query(AppointmentJourneyWorkflow.view)
        assert view.next_action is NextAction.NO_SHOW_CHECK
        assert view.reminders_handled == (1440, 120)

        await handle.result()
        assert await next_action_at(workflow_env, handle) is None
        view = await handle.query(AppointmentJourneyWorkflow.view)
        assert (view.status, view.next_action) == (AppointmentStatus.NO_SHOW, None)


async def test_continue_as_new_carries_what_the_journey_knows(
    workflow_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new run after every change (the sandbox would re-import the module, so this
    worker runs unsandboxed): each reminder is still sent once, then the no-show."""
    monkeypatch.setattr(workflows.journey, "CHANGES_PER_RUN", 1)
    day = await days_ahead(workflow_env, 3)
    start = local(day, 14)
    world = JourneyWorld(scheduled(start))

    async with journey_running(workflow_env, world, runner=UnsandboxedWorkflowRunner()) as handle:
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.NO_SHOW
    runs = []
    run_id = handle.first_execution_run_id
    while run_id:
        history = await workflow_env.client.get_workflow_handle(
            handle.id, run_id=run_id
        ).fetch_history()
        runs.append(history)
        last = history.events[-1].workflow_execution_continued_as_new_event_attributes
        run_id = last.new_execution_run_id
    assert len(runs) == 3  # after the first reminder, after the second, then the no-show
    assert world.reminders() == [
        (1440, start, start - DAY),
        (120, start, start - TWO_HOURS),
    ]
    assert [call.name for call in world.calls][2:] == [
        "plan_no_show",
        "issue_fee",
        "record_no_show",
    ]


# --- the sagas and the journey ------------------------------------------------------------


def after_step(history: WorkflowHistory, step: str) -> list[int]:
    """Where the journey was signalled, and where ``step`` completed, in a saga's history."""
    [scheduled_at] = [
        i
        for i in events(history, "activity_task_scheduled_event_attributes")
        if history.events[i].activity_task_scheduled_event_attributes.activity_type.name == step
    ]
    scheduled_id = history.events[scheduled_at].event_id
    [completed] = [
        i
        for i in events(history, "activity_task_completed_event_attributes")
        if history.events[i].activity_task_completed_event_attributes.scheduled_event_id
        == scheduled_id
    ]
    [signalled] = events(history, "signal_external_workflow_execution_initiated_event_attributes")
    return [completed, signalled]


async def test_a_cancellation_tells_the_journey_after_its_commit_point(
    workflow_env: WorkflowEnvironment,
) -> None:
    start = local(await days_ahead(workflow_env, 3), 14)
    world = JourneyWorld(scheduled(start))
    queue = new_queue()
    cancellation = CancellationRequest(
        appointment_id=world.appointment_id, fingerprint="f", caller=CALLER
    )

    async with worker(workflow_env, world, queue, saga=FakeWorld(start=start)):
        handle = await start_journey(workflow_env, world, queue)
        world.facts = Facts(status=AppointmentStatus.CANCELLED, start=start, version=4)
        saga = await workflow_env.client.start_workflow(
            CancellationWorkflow.run, cancellation, id=f"c-{uuid.uuid4()}", task_queue=queue
        )
        assert status_of(await saga.result()) == "CANCELLED"
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.CANCELLED
    assert world.calls == []
    history = await saga.fetch_history()
    completed, signalled = after_step(history, "mark_cancelled")
    assert signalled > completed
    assert events(history, "external_workflow_execution_signaled_event_attributes")


async def test_a_reschedule_tells_the_journey_its_new_time(
    workflow_env: WorkflowEnvironment,
) -> None:
    day = await days_ahead(workflow_env, 5)
    old, new = local(day, 14), local(day - timedelta(days=2), 11)
    world = JourneyWorld(scheduled(old))
    queue = new_queue()
    reschedule = RescheduleRequest(
        appointment_id=world.appointment_id, start=new, fingerprint="f", caller=CALLER
    )

    async with worker(workflow_env, world, queue, saga=FakeWorld(start=old)):
        handle = await start_journey(workflow_env, world, queue)
        world.facts = scheduled(new, version=4)
        saga = await workflow_env.client.start_workflow(
            RescheduleWorkflow.run, reschedule, id=f"r-{uuid.uuid4()}", task_queue=queue
        )
        assert status_of(await saga.result()) == "SCHEDULED"
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.NO_SHOW
    assert {start for _, start, _ in world.reminders()} == {new}
    assert world.of("record_no_show")[0].arg.start == new
    completed, signalled = after_step(await saga.fetch_history(), "move_appointment")
    assert signalled > completed


@pytest.mark.parametrize("saga", ["cancellation", "reschedule"])
async def test_a_saga_succeeds_when_the_appointment_has_no_journey(
    workflow_env: WorkflowEnvironment, saga: str
) -> None:
    """Booked before journeys (not yet backfilled), or ended: the signal fails, the saga
    does not."""
    start = local(await days_ahead(workflow_env, 3), 14)
    world = JourneyWorld(scheduled(start))
    queue = new_queue()
    appointment_id = world.appointment_id

    if saga == "cancellation":
        request: CancellationRequest | RescheduleRequest = CancellationRequest(
            appointment_id=appointment_id, fingerprint="f", caller=CALLER
        )
        workflow, status = "CancellationWorkflow", "CANCELLED"
    else:
        later = start + timedelta(days=1)
        request = RescheduleRequest(
            appointment_id=appointment_id, start=later, fingerprint="f", caller=CALLER
        )
        workflow, status = "RescheduleWorkflow", "SCHEDULED"

    async with worker(workflow_env, world, queue, saga=FakeWorld(start=start)):
        handle = await workflow_env.client.start_workflow(
            workflow, request, id=f"{saga}-{uuid.uuid4()}", task_queue=queue
        )
        assert (await handle.result())["status"] == status  # an untyped run answers a dict

    history = await handle.fetch_history()
    assert events(history, "signal_external_workflow_execution_failed_event_attributes")
