"""Determinism guard: the history of each saga, recorded on the test server, replays
without a non-determinism error against today's workflow code; so do the histories kept
in ``histories/``, recorded by earlier code."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.journey_start import JourneyStarts
from domain.events import EventContext
from domain.status import AppointmentStatus
from tests.workflows.fakes import FakeWorld, refusal, stalled, transient
from tests.workflows.journey_fakes import JourneyWorld
from tests.workflows.server import ENCRYPTED
from tests.workflows.test_booking_workflow import request as booking_request
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.codec import ENCODING
from workflows.contracts import journey
from workflows.contracts.booking import BookingRequest
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.journey import Facts, JourneyRequest, Rules
from workflows.contracts.no_show_reversal import NoShowReversalRequest
from workflows.contracts.reschedule import RescheduleRequest
from workflows.journey import AppointmentJourneyWorkflow
from workflows.no_show_reversal import NoShowReversalWorkflow
from workflows.reschedule import RescheduleWorkflow
from workflows.waitlist_offers import SlotOfferWorkflow

WORKFLOWS = [
    BookingWorkflow,
    CancellationWorkflow,
    RescheduleWorkflow,
    NoShowReversalWorkflow,
    AppointmentJourneyWorkflow,
    SlotOfferWorkflow,
]
CALLER = EventContext(actor="staff:replay")


Drive = Callable[[WorkflowEnvironment, WorkflowHandle[Any, Any], JourneyWorld], Awaitable[None]]


@dataclass(frozen=True)
class Run:
    """A saga run to record: its workflow, its input, the errors its fake steps raise
    (``FakeWorld.failures``), the world's other settings, and whether it ends failed (a
    run compensated for a fault, or whose undoing needs an operator, fails on purpose: its
    history is what counts; one refused for a business reason completes, rejected)."""

    name: str
    run: Any
    arg: Any
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    fails: bool = False
    # Runs on the test server's calendar (a journey's timers): the input, from its time.
    dated: Callable[[datetime], Any] | None = None
    # A journey's fake store, for the input; and what happens while the run goes (a
    # reschedule's signal, the end of a journey the run started).
    store: Callable[[Any], JourneyWorld] | None = None
    drive: Drive | None = None

    def world(self) -> FakeWorld:
        return FakeWorld(
            failures={step: list(errors) for step, errors in self.failures.items()},
            **self.settings,
        )


def runs() -> list[Run]:
    soon = datetime.now(UTC) + timedelta(days=4)
    cancellation = CancellationRequest(appointment_id="a", fingerprint="f", caller=CALLER)
    reschedule = RescheduleRequest(appointment_id="a", start=soon, fingerprint="f", caller=CALLER)
    late_fee = {"fee_cents": 1500}
    reversal = NoShowReversalRequest(
        appointment_id="a", target="COMPLETED", fingerprint="f", caller=CALLER
    )
    return [
        Run("booking", BookingWorkflow.run, booking_request()),
        Run(
            # a business refusal before anything was held: nothing to undo
            "booking-rejected",
            BookingWorkflow.run,
            booking_request(),
            {"validate_patient": [refusal("PatientNotFound", "no such patient")]},
        ),
        Run(
            "booking-compensated",
            BookingWorkflow.run,
            booking_request(),
            {"create_invoice": [transient() for _ in range(5)]},
            fails=True,
        ),
        Run(
            # the hold's timer wins over a stalled step
            "booking-hold-expired-compensated",
            BookingWorkflow.run,
            booking_request(),
            {"create_invoice": [stalled(timedelta(minutes=10))]},
            fails=True,
        ),
        Run(
            # billing outage policy "retry": SCHEDULED, then invoiced once Billing is back
            "booking-awaiting-billing",
            BookingWorkflow.run,
            booking_request(billing_outage_policy="retry"),
            {
                "create_invoice": [transient() for _ in range(5)],
                "create_invoice_when_billing_is_back": [transient() for _ in range(2)],
            },
        ),
        Run("booking-local-steps", BookingWorkflow.run, booking_request(local_steps=True)),
        Run(
            "booking-local-steps-compensated",
            BookingWorkflow.run,
            booking_request(local_steps=True),
            {"create_invoice": [transient() for _ in range(5)]},
            fails=True,
        ),
        Run(
            # a compensation refused for good: the run is marked NeedsAttention
            "booking-compensation-refused",
            BookingWorkflow.run,
            booking_request(),
            {
                "confirm_slot": [refusal("SlotUnavailable", "hold expired")],
                "void_invoice": [refusal("PeerContractError", "invoice is paid")],
                "release_slot": [refusal("PeerContractError", "idempotency-key-reused")],
            },
            fails=True,
        ),
        Run("cancellation", CancellationWorkflow.run, cancellation),
        Run(
            # the plan refuses: the appointment cannot be cancelled in its status
            "cancellation-rejected",
            CancellationWorkflow.run,
            cancellation,
            {"prepare_cancellation": [refusal("IllegalTransition")]},
        ),
        Run("cancellation-with-fee", CancellationWorkflow.run, cancellation, settings=late_fee),
        Run(
            "cancellation-with-fee-compensated",
            CancellationWorkflow.run,
            cancellation,
            {"mark_cancelled": [refusal("IllegalTransition")]},
            late_fee,
        ),
        Run(
            # a step after the commit point refused for good: the cancellation stands
            "cancellation-let-go-refused",
            CancellationWorkflow.run,
            cancellation,
            {"void_invoice_id:inv-old": [refusal("PeerContractError", "invoice is paid")]},
        ),
        Run("reschedule", RescheduleWorkflow.run, reschedule),
        Run(
            # the plan refuses: the appointment has started
            "reschedule-rejected",
            RescheduleWorkflow.run,
            reschedule,
            {"prepare_reschedule": [refusal("AppointmentStarted")]},
        ),
        Run(
            "reschedule-compensated",
            RescheduleWorkflow.run,
            reschedule,
            {"confirm_slot": [refusal("SlotUnavailable")]},
        ),
        Run(
            "reschedule-hold-expired-compensated",
            RescheduleWorkflow.run,
            reschedule,
            {"create_invoice": [stalled(timedelta(minutes=10))]},
            fails=True,
        ),
        Run("reschedule-late-fee", RescheduleWorkflow.run, reschedule, settings=late_fee),
        Run(
            # the move refused after the fee was charged: the fee is voided with the rest
            "reschedule-late-fee-compensated",
            RescheduleWorkflow.run,
            reschedule,
            {"move_appointment": [refusal("ConcurrencyConflict")]},
            late_fee,
        ),
        Run(
            # reversed, the fee voided once Billing is back, the void recorded
            "no-show-reversal",
            NoShowReversalWorkflow.run,
            reversal,
            {"void_invoice_id:inv-no-show": [transient()]},
        ),
        Run(
            # the plan refuses: the 24 h have passed
            "no-show-reversal-rejected",
            NoShowReversalWorkflow.run,
            reversal,
            {"prepare_no_show_reversal": [refusal("NoShowReversalClosed")]},
        ),
        Run(
            # Billing will not void the fee: the reversal stands, left to an operator
            "no-show-reversal-void-refused",
            NoShowReversalWorkflow.run,
            reversal,
            {"void_invoice_id:inv-no-show": [refusal("PeerContractError", "invoice is paid")]},
        ),
        # reminders, a reschedule after the first, the new time's reminders, the no-show
        Run(
            "journey",
            AppointmentJourneyWorkflow.run,
            None,
            dated=journey_request,
            store=journey_store,
            drive=reschedule_after_the_first_reminder,
        ),
        # last: its journey ends after the booking closed, which stops this module's test
        # server from skipping time (a quirk of it, see conftest.workflow_env)
        Run(
            "booking-journey",
            BookingWorkflow.run,
            None,
            dated=lambda now: booking_request(journey=Rules()).model_copy(
                update={"start": now + timedelta(days=3)}
            ),
            store=journey_store,
            drive=end_the_journey_it_started,
        ),
    ]


def journey_request(now: datetime) -> JourneyRequest:
    start = (now + timedelta(days=3)).replace(hour=13, minute=0, second=0, microsecond=0)
    return JourneyRequest(
        appointment_id="a",
        patient_id="pat-1",
        doctor_id="doc-1",
        facts=Facts(status=AppointmentStatus.SCHEDULED, start=start, version=2),
        rules=Rules(),
    )


def journey_store(request: JourneyRequest | BookingRequest) -> JourneyWorld:
    start = request.facts.start if isinstance(request, JourneyRequest) else request.start
    facts = Facts(status=AppointmentStatus.SCHEDULED, start=start, version=2)
    return JourneyWorld(facts, appointment_id=request.appointment_id)


async def reschedule_after_the_first_reminder(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], store: JourneyWorld
) -> None:
    start = store.facts.start
    await env.sleep(start - timedelta(days=1, minutes=-1) - await env.get_current_time())
    await store.called("send_reminder")
    moved = store.change(start=start + timedelta(days=1), reminders_sent=())
    await handle.signal(journey.CHANGED_SIGNAL, moved)


async def end_the_journey_it_started(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], store: JourneyWorld
) -> None:
    await handle.result()
    child = env.client.get_workflow_handle(journey.workflow_id(store.appointment_id))
    await child.signal(journey.CHANGED_SIGNAL, store.change(status=AppointmentStatus.CANCELLED))
    await child.result()


async def history_of(env: WorkflowEnvironment, run: Run, world: FakeWorld) -> WorkflowHistory:
    """The history of ``run`` on the fake activities of ``world``, once it ended as
    ``run.fails`` says."""
    if getattr(run.arg, "local_steps", False):
        # A local step's attempt time is the worker's clock, which the test server's
        # (skipped ahead by earlier runs) has left behind: the fake hold would be born
        # expired. It is given 10 minutes by the test server's clock (as in test_local_steps).
        skew = await env.get_current_time() - datetime.now(UTC)
        world.hold_lifetime = skew + timedelta(minutes=10)
    client = env.client
    queue = f"q-{uuid.uuid4()}"
    arg = run.dated(await env.get_current_time()) if run.dated else run.arg
    if isinstance(arg, BookingRequest):
        world.start = arg.start  # the start the booking's journey begins with
    store = run.store(arg) if run.store else None
    activities = world.activities() + (store.activities(peers=False) if store else [])
    activities += JourneyStarts(client, queue).all()  # the booking's start of its journey
    async with Worker(client, task_queue=queue, workflows=WORKFLOWS, activities=activities):
        handle = await client.start_workflow(
            run.run, arg, id=f"{run.name}-{uuid.uuid4()}", task_queue=queue
        )
        if run.drive and store:
            await run.drive(env, handle, store)
        try:
            await handle.result()
        except WorkflowFailureError:
            assert run.fails, f"{run.name} failed"
        else:
            assert not run.fails, f"{run.name} did not fail"
    return await handle.fetch_history()


@pytest.mark.parametrize("run", runs(), ids=lambda run: run.name)
async def test_recorded_history_replays_deterministically(
    workflow_env: WorkflowEnvironment, run: Run
) -> None:
    history = await history_of(workflow_env, run, run.world())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=ENCRYPTED)
    await replayer.replay_workflow(history)


async def test_a_recorded_history_holds_its_payloads_encrypted(
    workflow_env: WorkflowEnvironment,
) -> None:
    """The workers of these tests encrypt, as the service's do: the input, the memo, every
    activity's input and result, the outcome; the patient id and the reason are nowhere
    in the stored history."""
    [booking] = [run for run in runs() if run.name == "booking"]
    history = await history_of(workflow_env, booking, booking.world())
    payloads = [
        payload
        for event in history.events
        for field in (
            event.workflow_execution_started_event_attributes.input,
            event.activity_task_scheduled_event_attributes.input,
            event.activity_task_completed_event_attributes.result,
            event.workflow_execution_completed_event_attributes.result,
        )
        for payload in field.payloads
    ]
    assert len(payloads) > 4
    assert {p.metadata["encoding"] for p in payloads} == {ENCODING}
    stored = b"".join(event.SerializeToString() for event in history.events)
    assert booking.arg.reason
    assert booking.arg.reason.encode() not in stored
    assert booking.arg.patient_id.encode() not in stored


# Recorded by the code before a change (``<run>-before-<change>.json``: the hold-expiry
# timer, the saga kit, NeedsAttention, the late reschedule fee, the rejected outcome): runs
# in flight at a deploy must finish on the new code, so each change of the commands a saga
# issues is guarded by workflow.patched() (workflows/hold.py, workflows/attention.py,
# workflows/reschedule.py, workflows/saga.py). ``*-before-rejected-outcome``: refused runs
# that failed, as they did then; replayed today they must fail again, not complete.
# ``reschedule-late-plan*-before-late-fee``: runs of the code before the late fee whose
# plan came from a newer worker (its answer carries fee_cents, which that code ignored), as
# in a rolling deploy: replayed today, they must not charge the fee.
# ``no-show-reversal*-as-first-released``: that saga as it first shipped, so its first
# change of commands is guarded too. ``journey-as-first-released`` (reminders, a
# reschedule's signal, the new time's reminders, the no-show with its fee) and
# ``booking-journey-as-first-released`` (a booking starting its journey as a child): the
# journey as it first shipped (record_histories.py <suffix> journey booking-journey).
# ``*-before-waitlist-offers``: the sagas before they offered the slots they free to the
# waitlist (workflows/freed_slots.py). ``slot-offer-as-first-released``: the offer round
# as it first shipped, declined, expired, then booked through the booking saga on its
# hold (record_histories.py as-first-released slot-offer).
BEFORE = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parent / "histories").glob("*.json"))
}


@pytest.mark.parametrize("name", sorted(BEFORE))
async def test_histories_recorded_before_a_change_replay_on_todays_code(name: str) -> None:
    """Recorded unencrypted (before encryption, and by record_histories.py): the codec
    passes such payloads through, so they replay with encryption on."""
    assert base64.b64encode(ENCODING).decode() not in BEFORE[name]
    history = WorkflowHistory.from_json(f"replay-{name}", BEFORE[name])
    replayer = Replayer(workflows=WORKFLOWS, data_converter=ENCRYPTED)
    await replayer.replay_workflow(history)
