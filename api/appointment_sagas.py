"""Cancelling and rescheduling: load, authorize, start the saga (or join the run the
Idempotency-Key started), wait for the outcome within the budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from api.sagas import SagaRun, fingerprint, outcome_within, start_or_join
from api.schemas import CancelAppointment, RescheduleAppointment
from api.security.permissions import Action, Owners, Principal, authorize
from config import Settings
from domain.errors import AppointmentNotFound
from domain.events import EventContext
from domain.model import Appointment
from persistence import AppointmentStore
from workflows.cancellation import CancellationRequest, CancellationWorkflow
from workflows.reschedule import RescheduleRequest, RescheduleWorkflow


@dataclass(frozen=True)
class Running:
    """The saga still runs after the wait budget: poll the appointment."""

    appointment_id: str
    workflow_id: str


class AppointmentSagas:
    def __init__(self, temporal: Client, store: AppointmentStore, settings: Settings) -> None:
        self._temporal = temporal
        self._store = store
        self._settings = settings

    async def _authorized(self, appointment_id: str, who: Principal, action: Action) -> Appointment:
        authorize(who, action)
        appointment = await self._store.get(appointment_id)
        if appointment is None:
            raise AppointmentNotFound(f"no appointment {appointment_id}")
        authorize(who, action, Owners(appointment.patient_id, appointment.doctor_id))
        return appointment

    async def cancel(
        self,
        appointment_id: str,
        body: CancelAppointment,
        who: Principal,
        caller: EventContext,
        idempotency_key: str,
        wait_seconds: float,
    ) -> Appointment | Running:
        appointment = await self._authorized(appointment_id, who, Action.CANCEL)
        request = CancellationRequest(
            appointment_id=appointment.id,
            reason=body.reason,
            fingerprint=fingerprint(body, appointment.id, "cancel"),
            caller=caller,
        )
        return await self._run(
            CancellationWorkflow.run, request, f"cancellation-{idempotency_key}", appointment,
            "cancellation", wait_seconds,
        )  # fmt: skip

    async def reschedule(
        self,
        appointment_id: str,
        body: RescheduleAppointment,
        who: Principal,
        caller: EventContext,
        idempotency_key: str,
        wait_seconds: float,
    ) -> Appointment | Running:
        appointment = await self._authorized(appointment_id, who, Action.RESCHEDULE)
        request = RescheduleRequest(
            appointment_id=appointment.id,
            start=body.start,
            duration_minutes=body.duration_minutes,
            reason=body.reason,
            fingerprint=fingerprint(body, appointment.id, "reschedule"),
            caller=caller,
        )
        return await self._run(
            RescheduleWorkflow.run, request, f"reschedule-{idempotency_key}", appointment,
            "reschedule", wait_seconds,
        )  # fmt: skip

    async def _run(
        self,
        run: Callable[[Any, Any], Awaitable[Any]],
        request: CancellationRequest | RescheduleRequest,
        workflow_id: str,
        appointment: Appointment,
        saga: str,
        wait_seconds: float,
    ) -> Appointment | Running:
        saga_run = SagaRun(
            workflow_id=workflow_id,
            task_queue=self._settings.temporal_task_queue,
            fingerprint=request.fingerprint,
            appointment_id=appointment.id,
            patient_id=appointment.patient_id,
            doctor_id=appointment.doctor_id,
        )
        handle, _ = await start_or_join(self._temporal, run, request, saga_run)
        if await outcome_within(handle, wait_seconds, saga) is None:
            return Running(appointment.id, workflow_id)
        return await self._reloaded(appointment.id)

    async def _reloaded(self, appointment_id: str) -> Appointment:
        appointment = await self._store.get(appointment_id)
        if appointment is None:
            raise RuntimeError(f"appointment {appointment_id} vanished after its saga")
        return appointment
