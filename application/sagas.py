"""Cancelling and rescheduling: load, authorize, start the saga (or join the run the
caller's Idempotency-Key started, application/saga_runs.py), wait for its outcome within
the budget."""

from __future__ import annotations

from application.access import Requester, reloaded, visible
from application.commands import Cancel, Reschedule
from application.permissions import Action
from application.ports import AppointmentRepository, SagaGateway
from application.quotas import Quotas
from application.results import SagaAnswer, SagaRunning
from application.saga_runs import run_for, shown_to
from domain.model import Appointment
from workflows.contracts import cancellation, reschedule
from workflows.contracts.cancellation import CancellationRequest
from workflows.contracts.reschedule import RescheduleRequest


class SagaChanges:
    def __init__(
        self, repository: AppointmentRepository, sagas: SagaGateway, quotas: Quotas
    ) -> None:
        self._repository, self._sagas, self._quotas = repository, sagas, quotas

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
        answer = await self._sagas.reschedule(request, appointment, run, wait_seconds)
        return await self._answer(answer, appointment, requester)

    async def _answer(
        self, answer: SagaAnswer, appointment: Appointment, requester: Requester
    ) -> Appointment | SagaRunning:
        """The run, while it runs; then the appointment it changed, as the caller sees it."""
        if isinstance(answer, SagaRunning):
            return shown_to(requester.principal, answer)
        after = await reloaded(self._repository, appointment.id)
        return shown_to(requester.principal, after)
