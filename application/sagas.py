"""Cancelling, rescheduling and reversing a no-show: load, authorize, start the saga (or
join the run the caller's Idempotency-Key started, application/saga_runs.py), wait for its
outcome within the budget. What the stored appointment already refuses (cancel a COMPLETED
one, move one that has started, reverse a no-show after 24 h) is answered without starting
a run."""

from __future__ import annotations

from collections.abc import Callable

from application.access import Requester, reloaded, visible
from application.commands import Cancel, Reschedule, ReverseNoShow
from application.permissions import Action
from application.ports import AppointmentRepository, SagaGateway, WaitlistRepository
from application.quotas import Quotas
from application.results import SagaAnswer, SagaRunning
from application.saga_runs import run_for, shown_to
from application.waitlist import ensure_not_offered
from domain.clock import Clock, now_utc
from domain.errors import DomainError, IllegalTransition
from domain.model import (
    RESCHEDULABLE,
    Appointment,
    ensure_no_show_reversible,
    ensure_not_started,
)
from domain.rules import end_of
from domain.status import AppointmentStatus, ensure_transition
from workflows.contracts import cancellation, no_show_reversal, reschedule
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.no_show_reversal import NoShowReversalRequest
from workflows.contracts.reschedule import RescheduleRequest


class SagaChanges:
    def __init__(
        self,
        repository: AppointmentRepository,
        sagas: SagaGateway,
        quotas: Quotas,
        clock: Clock = now_utc,
        *,
        holds: WaitlistRepository,
    ) -> None:
        self._repository, self._sagas, self._quotas = repository, sagas, quotas
        self._clock = clock
        self._holds = holds  # the slots offer rounds hold for the waitlist

    async def cancel(
        self, command: Cancel, requester: Requester, wait_seconds: float
    ) -> Appointment | SagaRunning:
        self._quotas.start_saga(requester)  # the caller's rate (application/quotas.py)
        appointment = await visible(
            self._repository, requester.principal, Action.CANCEL, command.appointment_id
        )
        request = CancellationRequest(
            appointment_id=appointment.id,
            reason=command.cancellation.reason,
            fingerprint=command.fingerprint(),
            caller=requester.context(),
        )
        run = await run_for(self._sagas, cancellation.SAGA, requester, command.idempotency_key)
        await self._unless_refused(run, appointment, cancelled, "cancelled")
        answer = await self._sagas.cancel(request, appointment, run, wait_seconds)
        return await self._answer(answer, appointment, requester)

    async def reschedule(
        self, command: Reschedule, requester: Requester, wait_seconds: float
    ) -> Appointment | SagaRunning:
        self._quotas.start_saga(requester)  # the caller's rate (application/quotas.py)
        appointment = await visible(
            self._repository, requester.principal, Action.RESCHEDULE, command.appointment_id
        )
        new_time = command.new_time
        request = RescheduleRequest(
            appointment_id=appointment.id,
            start=new_time.start,
            duration_minutes=new_time.duration_minutes,
            reason=new_time.reason,
            fingerprint=command.fingerprint(),
            caller=requester.context(),
        )
        run = await run_for(self._sagas, reschedule.SAGA, requester, command.idempotency_key)
        await self._unless_refused(run, appointment, moved, "rescheduled")
        # Not into a slot an offer round holds for the waitlist (a retry of a run joins it).
        duration = new_time.duration_minutes or appointment.duration_minutes
        slot = (appointment.doctor_id, new_time.start, end_of(new_time.start, duration))
        await ensure_not_offered(self._holds, self._sagas, run, slot)
        answer = await self._sagas.reschedule(request, appointment, run, wait_seconds)
        return await self._answer(answer, appointment, requester)

    async def reverse_no_show(
        self, command: ReverseNoShow, requester: Requester, wait_seconds: float
    ) -> Appointment | SagaRunning:
        """The patient did come: a no-show recorded less than 24 h ago becomes CHECKED_IN
        or COMPLETED, and its fee is voided at Billing (NoShowReversalWorkflow)."""
        self._quotas.start_saga(requester)  # the caller's rate (application/quotas.py)
        appointment = await visible(
            self._repository, requester.principal, Action.REVERSE_NO_SHOW, command.appointment_id
        )
        request = NoShowReversalRequest(
            appointment_id=appointment.id,
            target=command.reversal.to,
            reason=command.reversal.reason,
            fingerprint=command.fingerprint(),
            caller=requester.context(),
        )
        run = await run_for(self._sagas, no_show_reversal.SAGA, requester, command.idempotency_key)
        await self._unless_joined(
            run, lambda: ensure_no_show_reversible(appointment, self._clock())
        )
        answer = await self._sagas.reverse_no_show(request, appointment, run, wait_seconds)
        return await self._answer(answer, appointment, requester)

    async def _unless_refused(
        self, run: str, appointment: Appointment, allowed: _StatusRule, change: str
    ) -> None:
        """Refuse, without starting a run, what the stored appointment already refuses: its
        status does not allow the change, or it has started (the saga's plan would refuse
        it the same way, after a run that only says so)."""

        def rule() -> None:
            allowed(appointment)
            ensure_not_started(appointment, self._clock(), change)

        await self._unless_joined(run, rule)

    async def _unless_joined(self, run: str, rule: Callable[[], None]) -> None:
        """Raise the refusal ``rule`` finds in the stored appointment, unless the key's run
        exists: a retry of a key whose run exists (say it cancelled the appointment) joins
        that run for its recorded answer instead."""
        try:
            rule()
        except DomainError:
            if await self._sagas.started_by(run) is None:
                raise

    async def _answer(
        self, answer: SagaAnswer, appointment: Appointment, requester: Requester
    ) -> Appointment | SagaRunning:
        """The run, while it runs; then the appointment it changed, as the caller sees it."""
        if isinstance(answer, SagaRunning):
            return shown_to(requester.principal, answer)
        after = await reloaded(self._repository, appointment.id)
        return shown_to(requester.principal, after)


_StatusRule = Callable[[Appointment], None]


def cancelled(appointment: Appointment) -> None:
    """The status machine's rule for a cancellation (as ``prepare_cancellation`` checks)."""
    ensure_transition(appointment.status, AppointmentStatus.CANCELLED)


def moved(appointment: Appointment) -> None:
    """Only a SCHEDULED or CONFIRMED appointment moves (as ``prepare_reschedule`` checks)."""
    if appointment.status not in RESCHEDULABLE:
        raise IllegalTransition(appointment.status.value, "rescheduled")
