"""Cancelling and rescheduling: load, authorize, start the saga (or join the run the
Idempotency-Key started), wait for its outcome within the budget."""

from __future__ import annotations

from application.access import Requester, reloaded, visible
from application.commands import Cancel, Reschedule
from application.permissions import Action
from application.ports import AppointmentRepository, SagaGateway
from application.quotas import Quotas
from application.results import SagaRunning
from domain.model import Appointment
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
        answer = await self._sagas.cancel(
            request, appointment, command.idempotency_key, wait_seconds
        )
        return answer if isinstance(answer, SagaRunning) else await self._after(appointment)

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
        answer = await self._sagas.reschedule(
            request, appointment, command.idempotency_key, wait_seconds
        )
        return answer if isinstance(answer, SagaRunning) else await self._after(appointment)

    async def _after(self, appointment: Appointment) -> Appointment:
        return await reloaded(self._repository, appointment.id)
