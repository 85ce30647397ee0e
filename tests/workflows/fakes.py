"""Fake activities with the real activities' names and input types: they record each call
and fail on demand, so every saga path can be driven without peers or a database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities.appointments import AppointmentActivities
from activities.models import (
    AppointmentSnapshot,
    CancellationPlan,
    DeferredInvoice,
    HeldSlot,
    InvoiceRecorded,
    IssuedInvoice,
    NoShowReversalPlan,
    ReschedulePlan,
    Withdrawn,
)
from activities.peers import PeerActivities
from activities.waitlist import WaitlistActivities
from tests.waiting import eventually_async


def refusal(error_type: str, detail: str = "refused") -> ApplicationError:
    return ApplicationError(detail, type=error_type, non_retryable=True)


def transient(detail: str = "peer unavailable") -> ApplicationError:
    return ApplicationError(detail, type="PeerUnavailable")


def stalled(for_: timedelta, detail: str = "peer unavailable") -> ApplicationError:
    """A transient fault whose next attempt is due only after ``for_``: the step stalls
    with no attempt running, so the time-skipping server skips through the wait."""
    return ApplicationError(detail, type="PeerUnavailable", next_retry_delay=for_)


def circuit_open(peer: str = "billing") -> ApplicationError:
    """How a forward step sees an open breaker (activities/errors.py)."""
    return ApplicationError(
        f"the {peer} breaker is open", type="PeerCircuitOpen", non_retryable=True
    )


async def settled(handle: WorkflowHandle[Any, Any], activity_type: str) -> None:
    """Wait until the run no longer lists ``activity_type`` as pending: a cancelled step
    whose fake was let go has reported back (see conftest.workflow_env: it must, while the
    run is still open)."""

    async def reported() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return all(p.activity_type.name != activity_type for p in pending)

    await eventually_async(reported, 10.0, f"{activity_type} is no longer pending")


@dataclass
class FakeWorld:
    """``failures[step]`` lists errors to raise on successive attempts; then the step works."""

    calls: list[str] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    always_fail: dict[str, Exception] = field(default_factory=dict)
    blockers: dict[str, asyncio.Event] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)  # each step's last input
    received: list[tuple[str, Any]] = field(default_factory=list)  # every call, with its input
    infos: dict[str, activity.Info] = field(default_factory=dict)  # the call's timeouts, policy
    entered: dict[str, asyncio.Event] = field(default_factory=dict)
    # The late fee prepare_cancellation and prepare_reschedule find the policy asks for.
    fee_cents: int = 0
    # The hold's lifetime at the (fake) Doctor Service, on the test server's clock.
    hold_lifetime: timedelta = timedelta(minutes=5)
    # The booking run that waits on Billing: does the appointment still want its invoice
    # (before it is created; when it is recorded), and may it still be withdrawn?
    awaits_invoice: bool = True
    invoice_wanted: bool = True
    withdrawable: bool = True
    # The no-show fee's invoice prepare_no_show_reversal finds (None: the no-show had none).
    no_show_invoice_id: str | None = "inv-no-show"
    # The appointment's start, which the store's answers carry (as the real ones do): what
    # the booking saga starts the journey with, what a cancellation tells it.
    start: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(days=3))

    def entered_event(self, step: str) -> asyncio.Event:
        return self.entered.setdefault(step, asyncio.Event())

    async def _run(self, step: str, arg: object) -> None:
        self.calls.append(step)
        self.inputs[step] = arg
        self.received.append((step, arg))
        self.infos[step] = activity.info()
        self.entered_event(step).set()
        if step in self.blockers:
            await self.blockers[step].wait()
        if step in self.always_fail:
            raise self.always_fail[step]
        queue = self.failures.get(step)
        if queue:
            raise queue.pop(0)
        self.completed.append(step)

    def attempts(self, step: str) -> int:
        return self.calls.count(step)

    def inputs_of(self, step: str) -> list[Any]:
        """What every call of ``step`` was given, in order."""
        return [arg for name, arg in self.received if name == step]

    def activities(self) -> list[Callable[..., object]]:
        """A fake of every activity the worker runs, by its name and input type: it records
        the call (``_run``), then answers what ``ANSWERS`` says (None if it does not)."""
        return [self._fake(name, arg_types) for name, arg_types in REAL_ACTIVITIES]

    def _fake(self, name: str, arg_types: list[type] | None) -> Callable[..., object]:
        world, answer, named_by = self, ANSWERS.get(name), CALLS_NAMED_BY.get(name)

        async def fake(arg: Any) -> Any:
            await world._run(named_by(arg) if named_by else name, arg)
            return answer(world, arg) if answer else None

        # The input's type, as the real activity's: what Temporal decodes the payload into.
        fake.__annotations__ = {"arg": (arg_types or [Any])[0]}
        return activity.defn(name=name)(fake)


# The worker's activities (activities/), whose names and input types the fakes take.
REAL_ACTIVITIES = [
    (definition.name, definition.arg_types)
    for kind in (AppointmentActivities, PeerActivities)
    for member in vars(kind).values()
    if callable(member)
    and (definition := activity._Definition.from_callable(member))
    and definition.name
] + [
    # The sagas offer the slots they free to the waitlist (workflows/freed_slots.py).
    (definition.name, definition.arg_types)
    for definition in [activity._Definition.must_from_callable(WaitlistActivities.offer_freed_slot)]
    if definition.name
]


def snapshot(status: str, version: int) -> Callable[[FakeWorld, Any], AppointmentSnapshot]:
    """What a step of the store answers: the appointment it was given, now ``status``."""
    return lambda world, arg: AppointmentSnapshot(
        appointment_id=arg.appointment_id,
        status=status,
        version=version,
        start=getattr(arg, "start", None) or world.start,  # a move's new start
    )


# What a fake answers once its step worked, from the world and the step's input.
ANSWERS: dict[str, Callable[[FakeWorld, Any], object]] = {
    "reserve_slot": lambda world, _: HeldSlot(
        hold_id="hold-1",
        expires_at=activity.info().current_attempt_scheduled_time + world.hold_lifetime,
    ),
    "persist_pending": snapshot("PENDING", 1),
    "create_invoice": lambda *_: IssuedInvoice(invoice_id="inv-1"),
    "create_invoice_when_billing_is_back": lambda world, _: DeferredInvoice(
        invoice_id="inv-late" if world.awaits_invoice else None
    ),
    "record_invoice": lambda world, _: InvoiceRecorded(recorded=world.invoice_wanted),
    "withdraw_booking": lambda world, _: Withdrawn(withdrawn=world.withdrawable),
    "mark_scheduled": snapshot("SCHEDULED", 2),
    "prepare_cancellation": lambda world, _: CancellationPlan(
        version=3,
        patient_id="pat-1",
        hold_id="hold-old",
        invoice_id="inv-old",
        fee_cents=world.fee_cents,
        doctor_id="doc-1",
        start=world.start,
        end=world.start + timedelta(minutes=30),
    ),
    "issue_fee": lambda *_: IssuedInvoice(invoice_id="inv-fee"),
    "mark_cancelled": snapshot("CANCELLED", 4),
    "prepare_reschedule": lambda world, check: ReschedulePlan(
        version=3,
        patient_id="pat-1",
        doctor_id="doc-1",
        duration_minutes=check.duration_minutes or 30,
        old_hold_id="hold-old",
        old_invoice_id="inv-old",
        fee_cents=world.fee_cents,
        old_start=world.start,
        old_end=world.start + timedelta(minutes=30),
    ),
    "move_appointment": snapshot("SCHEDULED", 4),
    "prepare_no_show_reversal": lambda world, _: NoShowReversalPlan(
        version=4, no_show_invoice_id=world.no_show_invoice_id
    ),
    "reverse_no_show": lambda _, reversal: AppointmentSnapshot(
        appointment_id=reversal.appointment_id, status=reversal.target, version=5
    ),
    "record_no_show_fee_voided": lambda *_: InvoiceRecorded(recorded=True),
}

# The steps a saga calls once per invoice or hold: their calls are recorded by its id.
CALLS_NAMED_BY: dict[str, Callable[[Any], str]] = {
    "void_invoice_id": lambda ref: f"void_invoice_id:{ref.invoice_id}",
    "release_hold": lambda action: f"release_hold:{action.hold_id}",
}
