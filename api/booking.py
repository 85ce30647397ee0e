"""Starting a booking saga and waiting for its outcome: what the REST routes (and later
GraphQL) call. The saga itself lives in ``workflows/booking.py``."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.sagas import (
    SagaRun,
    fingerprint,
    key_reused,
    outcome_within,
    refusal,
    saga_decision,
    start_or_join,
)
from api.schemas import BookAppointment, PendingAppointment
from config import Settings
from domain.events import EventContext
from domain.model import Appointment
from domain.rules import BookingLimits, validate_requested_time
from persistence import AppointmentStore
from workflows.booking import ANSWERED, KEY_REUSED, BookingWorkflow
from workflows.booking_models import BookingOutcome, BookingProgress, BookingRequest
from workflows.search_attributes import DOCTOR_ID, PATIENT_ID

# How often a request that joined a run by its result (one started before the ``answer``
# update existed, or one that has ended) asks whether it has SCHEDULED yet.
PROGRESS_POLL_SECONDS = 0.5
PROGRESS_QUERY_TIMEOUT = timedelta(seconds=1)


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


class _JoinInstead(Exception):
    """The key's run cannot answer the update: join it by its result instead."""


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
        self, body: BookAppointment, idempotency_key: str, caller: EventContext, wait_seconds: float
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
            local_steps=self._settings.saga_local_steps,
        )
        if wait_seconds <= 0:  # Prefer: respond-async: start (or join) the run, answer 202
            _, memo = await self._start_or_join(request)
            return StillRunning(str(memo["appointment_id"]), workflow_id, step=None)
        try:
            answer = await asyncio.wait_for(self._answer(request), timeout=wait_seconds)
        # The budget ran out: wait_for cancels the call, which the SDK reports as its own
        # error rather than as the cancellation.
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return await self._still_running(request)
        except _JoinInstead:
            return await self._join(request, wait_seconds)
        return await self._booked(answer.appointment_id)

    async def _answer(self, request: BookingRequest) -> BookingProgress:
        """Update-with-start: one call starts the saga (or joins the run the key already
        started) and returns once it is SCHEDULED, or raises once it failed and is undone.
        Temporal delivers the answer when the workflow gives it: no polling."""
        start = WithStartWorkflowOperation(
            BookingWorkflow.run,
            request,
            **self._saga_run(request).start_options(),
        )
        try:
            return await self._temporal.execute_update_with_start_workflow(
                BookingWorkflow.answer, request.fingerprint, start_workflow_operation=start
            )
        except WorkflowAlreadyStartedError:  # the key's run has ended: its recorded outcome
            raise _JoinInstead from None
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            # The update's own answers are non-retryable ApplicationErrors; anything else (a
            # run started before the update existed, which does not know it) is joined.
            if not isinstance(cause, ApplicationError) or not cause.non_retryable:
                raise _JoinInstead from None
            if cause.type == KEY_REUSED:
                raise key_reused() from None
            raise refusal(cause.type, cause.message, "booking") from None

    async def _join(self, request: BookingRequest, wait_seconds: float) -> Booked | StillRunning:
        """The key's run, however it started: its outcome, waited for up to
        ``wait_seconds``."""
        handle, memo = await self._start_or_join(request)
        if not await scheduled_within(handle, wait_seconds):
            return await self._still_running(request)
        return await self._booked(str(memo["appointment_id"]))

    async def _still_running(self, request: BookingRequest) -> Booked | StillRunning:
        """202: the run outlasted the wait. A saga that failed and is still undoing (a peer
        down keeps a compensation retrying) is answered as its failure, and one that
        SCHEDULED the appointment as the wait ran out as its booking."""
        handle, memo = await self._start_or_join(request)
        decision = await saga_decision(handle)
        if decision is not None:
            raise refusal(decision.error_type, decision.detail, "booking")
        progress = await _progress(handle)
        if progress is not None and progress.status in ANSWERED:
            return await self._booked(progress.appointment_id)
        return StillRunning(
            str(memo["appointment_id"]), handle.id, progress.step if progress else None
        )

    async def _start_or_join(
        self, request: BookingRequest
    ) -> tuple[WorkflowHandle[BookingWorkflow, BookingOutcome], dict[str, Any]]:
        return await start_or_join(
            self._temporal, BookingWorkflow.run, request, self._saga_run(request)
        )

    def _saga_run(self, request: BookingRequest) -> SagaRun:
        return SagaRun(
            workflow_id=workflow_id_for(request.idempotency_key),
            task_queue=self._settings.temporal_task_queue,
            fingerprint=request.fingerprint,
            appointment_id=request.appointment_id,
            patient_id=request.patient_id,
            doctor_id=request.doctor_id,
        )

    async def _booked(self, appointment_id: str) -> Booked:
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
            if progress is not None and progress.status in ANSWERED:
                return True
    finally:
        ended.cancel()


async def _progress(
    handle: WorkflowHandle[BookingWorkflow, BookingOutcome],
) -> BookingProgress | None:
    """The saga's progress; None while its first workflow task has not run yet, or while a
    workflow task runs its local steps longer than a reader should wait (a query waits for
    the task to end)."""
    try:
        return await handle.query(BookingWorkflow.progress, rpc_timeout=PROGRESS_QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        return None
