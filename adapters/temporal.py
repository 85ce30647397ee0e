"""The saga gateway on Temporal: start a saga as the run the use case names (the caller's
Idempotency-Key's, application/saga_runs.py), or join that run, and wait for its answer
within the budget. Booking waits by update-with-start (one call, no polling);
cancellation and reschedule by the run's result. Only the workflows' contracts are
imported here, never their code."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from loguru import logger
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from adapters import legacy_join
from adapters.answers import booking_progress, outcome_within, refusal, saga_decision
from application.errors import IdempotencyKeyReused
from application.ports import RoundEnded
from application.results import PendingBooking, SagaAnswer, SagaDone, SagaRunning
from config import Settings
from domain.errors import DomainError
from domain.model import Appointment
from domain.waitlist import OfferClosed, OfferExpired, OfferNotFound, WaitlistEntry
from workflows.contracts import (
    booking,
    cancellation,
    journey,
    no_show_reversal,
    reschedule,
    waitlist,
)
from workflows.contracts.booking import BookingProgress, BookingRequest, BookingResult
from workflows.contracts.cancellation import CancellationRequest, CancellationResult
from workflows.contracts.journey import Facts
from workflows.contracts.no_show_reversal import NoShowReversalRequest, NoShowReversalResult
from workflows.contracts.reschedule import RescheduleRequest, RescheduleResult
from workflows.contracts.saga import StartedBy
from workflows.contracts.waitlist import AcceptOffer, DeclineOffer, FreedSlot, OfferAccepted
from workflows.offer_rounds import round_request, start_round
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, PATIENT_ID

# What a saga run's result decodes to: its outcome, or the business refusal it completed
# with (``SagaRejected``). A union, which the SDK's ``result_type`` takes as a type.
BOOKING_RESULT = cast(type, BookingResult)


@dataclass(frozen=True)
class SagaRun:
    """Which run a saga request starts or joins, and what the run is shown and checked by."""

    workflow: str  # the workflow type
    workflow_id: str
    task_queue: str
    fingerprint: str  # of the request: the same key with another request is refused
    appointment_id: str
    patient_id: str
    doctor_id: str
    saga: str  # how answers name it: "booking", "cancellation", "reschedule"

    def start_options(self) -> dict[str, Any]:
        """How every saga run starts: one run per workflow id (a second start joins a
        running one, and never reruns an ended one), the request's fingerprint and the
        appointment in the memo, and search attributes for the Web UI."""
        return {
            "id": self.workflow_id,
            "task_queue": self.task_queue,
            "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
            "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
            "memo": {"fingerprint": self.fingerprint, "appointment_id": self.appointment_id},
            # Readable in the Temporal Web UI: every saga of one appointment side by side.
            "search_attributes": TypedSearchAttributes(
                [
                    SearchAttributePair(APPOINTMENT_ID, self.appointment_id),
                    SearchAttributePair(PATIENT_ID, self.patient_id),
                    SearchAttributePair(DOCTOR_ID, self.doctor_id),
                ]
            ),
        }


class TemporalSagas:
    """``application.ports.SagaGateway`` on a Temporal client."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client, self._task_queue = client, task_queue

    # --- booking -------------------------------------------------------------------------

    async def book(
        self, request: BookingRequest, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer:
        run = SagaRun(
            workflow=booking.WORKFLOW,
            workflow_id=workflow_id,
            task_queue=self._task_queue,
            fingerprint=request.fingerprint,
            appointment_id=request.appointment_id,
            patient_id=request.patient_id,
            doctor_id=request.doctor_id,
            saga=booking.SAGA,
        )
        if wait_seconds <= 0:  # Prefer: respond-async: start (or join) the run, answer 202
            _, memo = await self.start_or_join(run, request, BookingResult)
            return SagaRunning(str(memo["appointment_id"]), run.workflow_id)
        try:
            answer = await asyncio.wait_for(self._answer(run, request), timeout=wait_seconds)
        # The budget ran out: wait_for cancels the call, which the SDK reports as its own
        # error rather than as the cancellation.
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return await self.still_running(run, request)
        except legacy_join.JoinInstead:
            return await legacy_join.join(self, run, request, wait_seconds)
        return SagaDone(answer.appointment_id)

    async def _answer(self, run: SagaRun, request: BookingRequest) -> BookingProgress:
        """Update-with-start: one call starts the saga (or joins the run the key already
        started) and returns once it is SCHEDULED, or raises once it failed and is undone.
        Temporal delivers the answer when the workflow gives it: no polling."""
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            booking.WORKFLOW, request, result_type=BOOKING_RESULT, **run.start_options()
        )
        try:
            answer: BookingProgress = await self._client.execute_update_with_start_workflow(
                booking.ANSWER_UPDATE,
                request.fingerprint,
                start_workflow_operation=start,
                result_type=BookingProgress,
            )
        except WorkflowAlreadyStartedError:  # the key's run has ended: its recorded outcome
            raise legacy_join.JoinInstead from None
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            # The update's own answers are non-retryable ApplicationErrors; anything else
            # (a worker that does not know the update) is joined by the run's result.
            if not isinstance(cause, ApplicationError) or not cause.non_retryable:
                raise legacy_join.JoinInstead from None
            if cause.type == booking.KEY_REUSED:
                raise IdempotencyKeyReused() from None
            raise refusal(cause.type, cause.message, "booking") from None
        return answer

    async def still_running(self, run: SagaRun, request: BookingRequest) -> SagaAnswer:
        """The run outlasted the wait. A saga that failed and is still undoing (a peer
        down keeps a compensation retrying) is answered as its failure, and one that
        SCHEDULED the appointment as the wait ran out as its booking."""
        handle, memo = await self.start_or_join(run, request, BookingResult)
        decision = await saga_decision(handle)
        if decision is not None:
            raise refusal(decision.error_type, decision.detail, run.saga)
        progress = await booking_progress(handle)
        if progress is not None and progress.status in booking.ANSWERED:
            return SagaDone(progress.appointment_id)
        step = progress.step if progress else None
        return SagaRunning(str(memo["appointment_id"]), handle.id, step)

    async def pending_booking(self, appointment_id: str) -> PendingBooking | None:
        """A booking whose saga runs but has not persisted the appointment yet, found in
        Temporal's visibility store by the AppointmentId search attribute."""
        query = (
            f"AppointmentId = '{appointment_id}' AND ExecutionStatus = 'Running' "
            f"AND WorkflowType = '{booking.WORKFLOW}'"
        )
        async for execution in self._client.list_workflows(query, limit=1):
            handle = self._client.get_workflow_handle(execution.id, result_type=BOOKING_RESULT)
            progress = await booking_progress(handle)
            attributes = execution.typed_search_attributes
            return PendingBooking(
                id=appointment_id,
                patient_id=attributes.get(PATIENT_ID) or "",
                doctor_id=attributes.get(DOCTOR_ID) or "",
                workflow_id=execution.id,
                step=progress.step if progress else None,
            )
        return None

    # --- cancellation, reschedule, no-show reversal -----------------------------------------

    async def cancel(
        self, request: CancellationRequest, on: Appointment, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer:
        run = self._change(cancellation.WORKFLOW, cancellation.SAGA, workflow_id, request, on)
        return await self._run(run, request, CancellationResult, wait_seconds)

    async def reschedule(
        self, request: RescheduleRequest, on: Appointment, workflow_id: str, wait_seconds: float
    ) -> SagaAnswer:
        run = self._change(reschedule.WORKFLOW, reschedule.SAGA, workflow_id, request, on)
        return await self._run(run, request, RescheduleResult, wait_seconds)

    async def reverse_no_show(
        self,
        request: NoShowReversalRequest,
        on: Appointment,
        workflow_id: str,
        wait_seconds: float,
    ) -> SagaAnswer:
        run = self._change(
            no_show_reversal.WORKFLOW, no_show_reversal.SAGA, workflow_id, request, on
        )
        return await self._run(run, request, NoShowReversalResult, wait_seconds)

    def _change(
        self,
        workflow: str,
        saga: str,
        workflow_id: str,
        request: CancellationRequest | RescheduleRequest | NoShowReversalRequest,
        on: Appointment,
    ) -> SagaRun:
        return SagaRun(
            workflow=workflow,
            workflow_id=workflow_id,
            task_queue=self._task_queue,
            fingerprint=request.fingerprint,
            appointment_id=on.id,
            patient_id=on.patient_id,
            doctor_id=on.doctor_id,
            saga=saga,
        )

    async def _run(
        self, run: SagaRun, request: Any, outcome: Any, wait_seconds: float
    ) -> SagaAnswer:
        handle, _ = await self.start_or_join(run, request, outcome)
        if await outcome_within(handle, wait_seconds, run.saga) is None:
            return SagaRunning(run.appointment_id, run.workflow_id)
        return SagaDone(run.appointment_id)

    # --- shared ---------------------------------------------------------------------------

    async def started_by(self, workflow_id: str) -> str | None:
        """The actor of the request the run ``workflow_id`` was started with (its first
        history event's input); None when no run has that id. One call, answered at once
        (NOT_FOUND) for the ids of runs that never were."""
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            async for event in handle.fetch_history_events(page_size=1):
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [started] = await self._client.data_converter.decode(payloads, [StartedBy])
                return str(started.caller.actor)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        return None

    async def start_or_join(
        self, run: SagaRun, request: Any, outcome: Any
    ) -> tuple[WorkflowHandle[Any, Any], dict[str, Any]]:
        """Start the saga, or get the run this workflow id already has: a retried request
        joins the running saga; one that comes after it ended gets its recorded outcome.
        Never two sagas for one key. A key reused with another request is refused."""
        try:
            handle: WorkflowHandle[Any, Any] = await self._client.start_workflow(
                run.workflow, request, result_type=outcome, **run.start_options()
            )
        except WorkflowAlreadyStartedError:
            handle = self._client.get_workflow_handle(run.workflow_id, result_type=outcome)
        memo = await (await handle.describe()).memo()
        if memo.get("fingerprint") != run.fingerprint:
            raise IdempotencyKeyReused()
        return handle, dict(memo)


class TemporalJourneyNews:
    """``application.ports.JourneyNews``: the ``appointment_changed`` signal to the
    appointment's journey (``journey-<id>``) with its facts after the change. No journey
    (booked before journeys and not backfilled) or one that has ended is no error; any
    other failure is logged and dropped: the change is committed, and the journey re-reads
    the store when its next timer fires, so a lost signal costs one timer for nothing."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def changed(self, appointment: Appointment) -> None:
        handle = self._client.get_workflow_handle(journey.workflow_id(appointment.id))
        try:
            await handle.signal(journey.CHANGED_SIGNAL, Facts.of(appointment))
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                logger.debug("no running journey of appointment {} to tell", appointment.id)
                return
            logger.warning("the journey of appointment {} was not told: {}", appointment.id, error)
        except Exception:
            logger.exception("the journey of appointment {} was not told", appointment.id)


# The round's refusals of an answer (its updates' ApplicationError types), as the domain
# names them; any other type is the booking's refusal (``adapters.answers.refusal``).
_OFFER_REFUSALS: dict[str, type[DomainError]] = {
    waitlist.OFFER_NOT_FOUND: OfferNotFound,
    waitlist.OFFER_EXPIRED: OfferExpired,
    waitlist.OFFER_CLOSED: OfferClosed,
}
# What the server answers an update that was admitted but whose workflow completed first.
_COMPLETED_FIRST = "AcceptedUpdateCompletedWorkflow"


class TemporalOfferRounds:
    """``application.ports.OfferRounds``: the answers are the round's updates, so the
    round decides them one at a time (of 20 concurrent accepts one books); a leaving
    entry is a signal (a hint); a freed slot starts the slot's round or joins it
    (``workflows.offer_rounds.start_round``, signal-with-start)."""

    def __init__(self, client: Client, task_queue: str, settings: Settings) -> None:
        self._client, self._task_queue, self._settings = client, task_queue, settings

    def _round(self, entry: WaitlistEntry, offer_id: str) -> WorkflowHandle[Any, Any]:
        offer = entry.offer(offer_id)
        if offer is None:
            raise OfferNotFound(f"no offer {offer_id}")
        return self._client.get_workflow_handle(offer.round_id)

    async def accept(
        self, entry: WaitlistEntry, accept: AcceptOffer, wait_seconds: float
    ) -> OfferAccepted | None:
        handle = self._round(entry, accept.offer_id)
        try:
            # Once the round has taken the update it books whether or not we wait: past
            # the budget the caller is told it is booking (202) and the entry shows the rest.
            update = await handle.start_update(
                waitlist.ACCEPT_UPDATE,
                accept,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=OfferAccepted,
            )
            if wait_seconds <= 0:
                return None
            answer: OfferAccepted = await asyncio.wait_for(update.result(), timeout=wait_seconds)
            return answer
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return None
        except WorkflowUpdateFailedError as failed:
            raise _refused(failed) from None
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:  # the round's run has ended
                raise RoundEnded(handle.id) from None
            raise

    async def decline(self, entry: WaitlistEntry, decline: DeclineOffer) -> None:
        handle = self._round(entry, decline.offer_id)
        try:
            await handle.execute_update(waitlist.DECLINE_UPDATE, decline)
        except WorkflowUpdateFailedError as failed:
            raise _refused(failed) from None
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise RoundEnded(handle.id) from None
            raise

    async def entry_left(self, entry: WaitlistEntry, offer_id: str) -> None:
        """The ``entry_left`` signal with the withdrawn offer's id. A hint: the entry has
        left in the store already, and the round finds the offer withdrawn by itself when
        it would have expired; so a failure is logged, never raised."""
        try:
            handle = self._round(entry, offer_id)
            await handle.signal(waitlist.ENTRY_LEFT_SIGNAL, offer_id)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                logger.debug("the round of offer {} has ended: nothing to tell", offer_id)
                return
            logger.warning("the round of offer {} was not told: {}", offer_id, error)
        except Exception:
            logger.exception("the round of offer {} was not told", offer_id)

    async def slot_freed(self, slot: FreedSlot) -> None:
        await start_round(self._client, self._task_queue, round_request(slot, self._settings))


def _refused(failed: WorkflowUpdateFailedError) -> Exception:
    """The error an answer the round refused (or failed) is to the application layer."""
    cause = failed.cause
    if isinstance(cause, ApplicationError):
        if cause.type in _OFFER_REFUSALS:
            return _OFFER_REFUSALS[cause.type].from_detail(cause.message)
        if cause.type == _COMPLETED_FIRST:
            return RoundEnded(cause.message)
        return refusal(cause.type, cause.message, booking.SAGA)
    return refusal(None, str(cause), booking.SAGA)
