"""Starting a booking saga and waiting for its outcome: what the REST routes (and later
GraphQL) call. The saga itself lives in ``workflows/booking.py``."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.models import Caller
from api.sagas import fingerprint, outcome_within, start_or_join
from api.schemas import BookAppointment, PendingAppointment
from config import Settings
from domain.model import Appointment
from domain.rules import BookingLimits, validate_requested_time
from persistence import AppointmentStore
from workflows.booking import BookingOutcome, BookingProgress, BookingRequest, BookingWorkflow
from workflows.search_attributes import DOCTOR_ID, PATIENT_ID, BookingStatus

# A booking made while Billing was unreachable (billing outage policy "retry") is SCHEDULED
# while its run still waits on Billing for the invoice: the answer does not wait for that.
SCHEDULED = frozenset({BookingStatus.SCHEDULED, BookingStatus.AWAITING_BILLING})
# How often a waiting request asks a run that has not ended whether it has SCHEDULED yet.
# A booking that ends at once (nearly all of them) is never asked.
PROGRESS_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Booked:
    appointment: Appointment


@dataclass(frozen=True)
class StillRunning:
    appointment_id: str
    workflow_id: str
    step: str | None


def booking_fingerprint(body: BookAppointment) -> str:
    # The instant, not its spelling: 10:00+01:00 and 09:00Z are one request.
    return fingerprint(body.model_copy(update={"start": body.start.astimezone(UTC)}))


def workflow_id_for(idempotency_key: str) -> str:
    return f"booking-{idempotency_key}"


class BookingService:
    def __init__(self, temporal: Client, store: AppointmentStore, settings: Settings) -> None:
        self._temporal = temporal
        self._store = store
        self._settings = settings
        self._limits = BookingLimits(
            min_duration_minutes=settings.min_duration_minutes,
            max_duration_minutes=settings.max_duration_minutes,
        )

    async def book(
        self, body: BookAppointment, idempotency_key: str, caller: Caller, wait_seconds: float
    ) -> Booked | StillRunning:
        """Start the saga, or join the run that already has this key, and wait for its
        outcome up to ``wait_seconds``. Refusals raise the domain error they name."""
        validate_requested_time(body.start, body.duration_minutes, datetime.now(UTC), self._limits)
        workflow_id = workflow_id_for(idempotency_key)
        request = BookingRequest(
            appointment_id=str(uuid.uuid4()),
            patient_id=body.patient_id,
            doctor_id=body.doctor_id,
            start=body.start,
            duration_minutes=body.duration_minutes,
            reason=body.reason,
            idempotency_key=idempotency_key,
            fingerprint=booking_fingerprint(body),
            caller=caller,
            billing_outage_policy=self._settings.billing_outage_policy,
            billing_retry_max_interval_seconds=self._settings.billing_retry_max_interval_seconds,
        )
        handle, memo = await start_or_join(
            self._temporal,
            BookingWorkflow.run,
            request,
            workflow_id=workflow_id,
            task_queue=self._settings.temporal_task_queue,
            fingerprint=request.fingerprint,
            appointment_id=request.appointment_id,
            patient_id=request.patient_id,
            doctor_id=request.doctor_id,
        )
        appointment_id = str(memo["appointment_id"])
        if not await scheduled_within(handle, wait_seconds):
            progress = await _progress(handle)
            return StillRunning(appointment_id, workflow_id, progress.step if progress else None)
        appointment = await self._store.get(appointment_id)
        if appointment is None:  # the saga said SCHEDULED; the store must have it
            raise RuntimeError(f"appointment {appointment_id} missing after its saga")
        return Booked(appointment)

    async def pending(self, appointment_id: str) -> PendingAppointment | None:
        """A booking whose saga runs but has not persisted the appointment yet, found in
        Temporal's visibility store by the AppointmentId search attribute."""
        query = (
            f"AppointmentId = '{appointment_id}' AND ExecutionStatus = 'Running' "
            "AND WorkflowType = 'BookingWorkflow'"
        )
        async for execution in self._temporal.list_workflows(query, limit=1):
            handle = self._temporal.get_workflow_handle_for(BookingWorkflow.run, execution.id)
            progress = await _progress(handle)
            attributes = execution.typed_search_attributes
            return PendingAppointment(
                id=appointment_id,
                patient_id=attributes.get(PATIENT_ID) or "",
                doctor_id=attributes.get(DOCTOR_ID) or "",
                workflow_id=execution.id,
                step=progress.step if progress else None,
            )
        return None


async def scheduled_within(
    handle: WorkflowHandle[BookingWorkflow, BookingOutcome], wait_seconds: float
) -> bool:
    """Whether the saga SCHEDULED the appointment within ``wait_seconds``: its run ended, or
    it waits on Billing for the invoice only (AWAITING_BILLING), which the answer does not
    wait for. A failed saga raises what ``outcome_within`` raises."""
    ended = asyncio.ensure_future(outcome_within(handle, wait_seconds, "booking"))
    try:
        while True:
            done, _ = await asyncio.wait({ended}, timeout=PROGRESS_POLL_SECONDS)
            if done:
                return ended.result() is not None
            progress = await _progress(handle)
            if progress is not None and progress.status in SCHEDULED:
                return True
    finally:
        ended.cancel()


async def _progress(
    handle: WorkflowHandle[BookingWorkflow, BookingOutcome],
) -> BookingProgress | None:
    """The saga's progress; None while its first workflow task has not run yet."""
    try:
        return await handle.query(BookingWorkflow.progress)
    except (RPCError, WorkflowQueryFailedError):
        return None
