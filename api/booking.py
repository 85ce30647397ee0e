"""Starting a booking saga and waiting for its outcome: what the REST routes (and later
GraphQL) call. The saga itself lives in ``workflows/booking.py``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, CancelledError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.models import Caller
from api.problems import ProblemError
from api.schemas import BookAppointment, PendingAppointment
from config import Settings
from domain import errors
from domain.model import Appointment
from domain.rules import BookingLimits, validate_requested_time
from persistence import AppointmentStore
from workflows.booking import BookingOutcome, BookingProgress, BookingRequest, BookingWorkflow
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, PATIENT_ID, BookingStatus

_REFUSALS: dict[str, type[errors.DomainError]] = {c.__name__: c for c in errors.BUSINESS_ERRORS}


@dataclass(frozen=True)
class Booked:
    appointment: Appointment


@dataclass(frozen=True)
class StillRunning:
    appointment_id: str
    workflow_id: str
    step: str | None


def fingerprint(body: BookAppointment) -> str:
    """The request's identity: the same Idempotency-Key must come with the same request."""
    canonical = body.model_dump(mode="json") | {"start": body.start.astimezone(UTC).isoformat()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


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
            fingerprint=fingerprint(body),
            caller=caller,
        )
        handle = await self._start_or_join(request, workflow_id)
        memo = await (await handle.describe()).memo()
        if memo.get("fingerprint") != request.fingerprint:
            raise ProblemError(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was already used with a different request",
            )
        appointment_id = str(memo["appointment_id"])
        try:
            outcome = await asyncio.wait_for(handle.result(), timeout=wait_seconds)
        except TimeoutError:
            progress = await _progress(handle)
            if progress and progress.status in (BookingStatus.REJECTED, BookingStatus.FAILED):
                # decided, still undoing (say Billing is down): answer the outcome now
                raise _refusal(progress.error_type, progress.error_detail) from None
            return StillRunning(appointment_id, workflow_id, progress.step if progress else None)
        except WorkflowFailureError as failure:
            raise _failure(failure) from None
        appointment = await self._store.get(outcome.appointment_id)
        if appointment is None:  # the saga said SCHEDULED; the store must have it
            raise RuntimeError(f"appointment {outcome.appointment_id} missing after its saga")
        return Booked(appointment)

    async def _start_or_join(
        self, request: BookingRequest, workflow_id: str
    ) -> WorkflowHandle[BookingWorkflow, BookingOutcome]:
        try:
            return await self._temporal.start_workflow(
                BookingWorkflow.run,
                request,
                id=workflow_id,
                task_queue=self._settings.temporal_task_queue,
                # A retried request joins the running saga; one that comes after the saga
                # ended gets its recorded outcome: never a second booking for one key.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={"fingerprint": request.fingerprint, "appointment_id": request.appointment_id},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(APPOINTMENT_ID, request.appointment_id),
                        SearchAttributePair(PATIENT_ID, request.patient_id),
                        SearchAttributePair(DOCTOR_ID, request.doctor_id),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError:
            return self._temporal.get_workflow_handle_for(BookingWorkflow.run, workflow_id)

    async def pending(self, appointment_id: str) -> PendingAppointment | None:
        """A booking whose saga runs but has not persisted the appointment yet, found in
        Temporal's visibility store by the AppointmentId search attribute."""
        query = f"AppointmentId = '{appointment_id}' AND ExecutionStatus = 'Running'"
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


async def _progress(
    handle: WorkflowHandle[BookingWorkflow, BookingOutcome],
) -> BookingProgress | None:
    """The saga's progress; None while its first workflow task has not run yet."""
    try:
        return await handle.query(BookingWorkflow.progress)
    except (RPCError, WorkflowQueryFailedError):
        return None


def _failure(failure: WorkflowFailureError) -> Exception:
    cause = failure.cause
    if isinstance(cause, CancelledError):
        return _refusal("Cancelled", "the saga was cancelled")
    if isinstance(cause, ApplicationError):
        return _refusal(cause.type, cause.message)
    return _refusal(None, "the saga failed")


def _refusal(error_type: str | None, detail: str | None) -> Exception:
    """The domain error a failed saga names, or a problem for a cancelled or failed one."""
    if error_type in _REFUSALS:
        return _REFUSALS[error_type](detail or "")
    if error_type == "Cancelled":
        return ProblemError(409, "booking-cancelled", "Booking cancelled", "the saga was cancelled")
    return ProblemError(
        503,
        "booking-failed",
        "Booking failed",
        f"{detail or 'the saga failed'}. Nothing was booked; retry with a new Idempotency-Key.",
        headers={"Retry-After": "5"},
    )
