"""Fake activities with the real activities' names: they record each call and fail on
demand, so every saga path can be driven without peers or a database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities.models import (
    AppointmentRef,
    AppointmentSnapshot,
    Cancel,
    CancellationPlan,
    DeferredInvoice,
    FeeOrder,
    HeldSlot,
    HoldAction,
    InvoiceOrder,
    InvoiceRecord,
    InvoiceRecorded,
    InvoiceRef,
    InvoiceVoid,
    IssuedInvoice,
    Move,
    NewAppointment,
    PatientCheck,
    RescheduleCheck,
    ReschedulePlan,
    SlotCheck,
    SlotReservation,
    StatusChange,
    Withdrawal,
    Withdrawn,
)


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
    for _ in range(200):
        pending = (await handle.describe()).raw_description.pending_activities
        if all(p.activity_type.name != activity_type for p in pending):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{activity_type} is still pending")


@dataclass
class FakeWorld:
    """``failures[step]`` lists errors to raise on successive attempts; then the step works."""

    calls: list[str] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    always_fail: dict[str, Exception] = field(default_factory=dict)
    blockers: dict[str, asyncio.Event] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    infos: dict[str, activity.Info] = field(default_factory=dict)  # the call's timeouts, policy
    entered: dict[str, asyncio.Event] = field(default_factory=dict)
    fee_cents: int = 0  # what prepare_cancellation finds the policy asks for
    # The hold's lifetime at the (fake) Doctor Service, on the test server's clock.
    hold_lifetime: timedelta = timedelta(minutes=5)
    # The booking run that waits on Billing: does the appointment still want its invoice
    # (before it is created; when it is recorded), and may it still be withdrawn?
    awaits_invoice: bool = True
    invoice_wanted: bool = True
    withdrawable: bool = True

    def entered_event(self, step: str) -> asyncio.Event:
        return self.entered.setdefault(step, asyncio.Event())

    async def _run(self, step: str, arg: object) -> None:
        self.calls.append(step)
        self.inputs[step] = arg
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

    def activities(self) -> list[Callable[..., object]]:
        world = self

        @activity.defn(name="validate_patient")
        async def validate_patient(check: PatientCheck) -> None:
            await world._run("validate_patient", check)

        @activity.defn(name="check_availability")
        async def check_availability(check: SlotCheck) -> None:
            await world._run("check_availability", check)

        @activity.defn(name="reserve_slot")
        async def reserve_slot(reservation: SlotReservation) -> HeldSlot:
            await world._run("reserve_slot", reservation)
            taken = activity.info().current_attempt_scheduled_time
            return HeldSlot(hold_id="hold-1", expires_at=taken + world.hold_lifetime)

        @activity.defn(name="release_slot")
        async def release_slot(reservation: SlotReservation) -> None:
            await world._run("release_slot", reservation)

        @activity.defn(name="confirm_slot")
        async def confirm_slot(action: HoldAction) -> None:
            await world._run("confirm_slot", action)

        @activity.defn(name="persist_pending")
        async def persist_pending(new: NewAppointment) -> AppointmentSnapshot:
            await world._run("persist_pending", new)
            return AppointmentSnapshot(
                appointment_id=new.appointment_id, status="PENDING", version=1
            )

        @activity.defn(name="create_invoice")
        async def create_invoice(order: InvoiceOrder) -> IssuedInvoice:
            await world._run("create_invoice", order)
            return IssuedInvoice(invoice_id="inv-1")

        @activity.defn(name="create_invoice_when_billing_is_back")
        async def create_invoice_when_billing_is_back(order: InvoiceOrder) -> DeferredInvoice:
            await world._run("create_invoice_when_billing_is_back", order)
            return DeferredInvoice(invoice_id="inv-late" if world.awaits_invoice else None)

        @activity.defn(name="record_invoice")
        async def record_invoice(record: InvoiceRecord) -> InvoiceRecorded:
            await world._run("record_invoice", record)
            return InvoiceRecorded(recorded=world.invoice_wanted)

        @activity.defn(name="withdraw_booking")
        async def withdraw_booking(withdrawal: Withdrawal) -> Withdrawn:
            await world._run("withdraw_booking", withdrawal)
            return Withdrawn(withdrawn=world.withdrawable)

        @activity.defn(name="void_invoice")
        async def void_invoice(void: InvoiceVoid) -> None:
            await world._run("void_invoice", void)

        @activity.defn(name="mark_scheduled")
        async def mark_scheduled(change: StatusChange) -> AppointmentSnapshot:
            await world._run("mark_scheduled", change)
            return AppointmentSnapshot(
                appointment_id=change.appointment_id, status="SCHEDULED", version=2
            )

        @activity.defn(name="mark_failed")
        async def mark_failed(change: StatusChange) -> None:
            await world._run("mark_failed", change)

        @activity.defn(name="prepare_cancellation")
        async def prepare_cancellation(ref: AppointmentRef) -> CancellationPlan:
            await world._run("prepare_cancellation", ref)
            return CancellationPlan(
                version=3,
                patient_id="pat-1",
                hold_id="hold-old",
                invoice_id="inv-old",
                fee_cents=world.fee_cents,
            )

        @activity.defn(name="issue_fee")
        async def issue_fee(order: FeeOrder) -> IssuedInvoice:
            await world._run("issue_fee", order)
            return IssuedInvoice(invoice_id="inv-fee")

        @activity.defn(name="void_invoice_id")
        async def void_invoice_id(ref: InvoiceRef) -> None:
            await world._run(f"void_invoice_id:{ref.invoice_id}", ref)

        @activity.defn(name="release_hold")
        async def release_hold(action: HoldAction) -> None:
            await world._run(f"release_hold:{action.hold_id}", action)

        @activity.defn(name="mark_cancelled")
        async def mark_cancelled(cancel: Cancel) -> AppointmentSnapshot:
            await world._run("mark_cancelled", cancel)
            return AppointmentSnapshot(
                appointment_id=cancel.appointment_id, status="CANCELLED", version=4
            )

        @activity.defn(name="prepare_reschedule")
        async def prepare_reschedule(check: RescheduleCheck) -> ReschedulePlan:
            await world._run("prepare_reschedule", check)
            return ReschedulePlan(
                version=3,
                patient_id="pat-1",
                doctor_id="doc-1",
                duration_minutes=check.duration_minutes or 30,
                old_hold_id="hold-old",
                old_invoice_id="inv-old",
            )

        @activity.defn(name="move_appointment")
        async def move_appointment(move: Move) -> AppointmentSnapshot:
            await world._run("move_appointment", move)
            return AppointmentSnapshot(
                appointment_id=move.appointment_id, status="SCHEDULED", version=4
            )

        return [
            prepare_cancellation,
            issue_fee,
            void_invoice_id,
            release_hold,
            mark_cancelled,
            prepare_reschedule,
            move_appointment,
            validate_patient,
            check_availability,
            reserve_slot,
            release_slot,
            confirm_slot,
            persist_pending,
            create_invoice,
            create_invoice_when_billing_is_back,
            record_invoice,
            withdraw_booking,
            void_invoice,
            mark_scheduled,
            mark_failed,
        ]
