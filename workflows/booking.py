"""BookingWorkflow: the booking saga of ARCHITECTURE §2, told as a story of awaits.

    validate patient -> check availability -> reserve slot
    -> [persist PENDING -> create invoice -> confirm the hold]  racing the hold's expiry
    -> mark SCHEDULED
    -> (Billing was unreachable, policy "retry") invoice once Billing is back

Compensations (registered before each step, run in reverse, shielded from cancellation):
void invoice, mark FAILED, release the hold. A booking whose hold expired, undone, offers
the slot to the waitlist (it may be free again).

The booking of an accepted waitlist offer (``request.waitlist``) uses the offer round's
hold, and a booking on a hold its caller took (``request.held``, FHIR ``$hold``) uses
that: it checks the patient, then persists, invoices and confirms that hold, racing its
expiry; it never checks, takes or releases a hold (the round owns it, and offers the slot
to the next candidate if this booking fails; the caller's expires by itself).
A business refusal (unknown patient, slot taken) then completes the run with a
``SagaRejected`` result, BookingStatus REJECTED; a fault fails it, BookingStatus FAILED
(``workflows.saga.run_saga``)."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.appointments import AppointmentActivities
    from activities.models import AppointmentSnapshot, HeldSlot
    from activities.peers import PeerActivities
    from domain.rules import end_of
    from workflows.contracts import booking
    from workflows.contracts.booking import (
        ANSWERED,
        BookingOutcome,
        BookingProgress,
        BookingRequest,
        BookingResult,
        BookingStatus,
    )
    from workflows.contracts.saga import SagaDecision
    from workflows.contracts.waitlist import FreedBy
    from workflows.freed_slots import freed_slot, offer_to_the_waitlist
    from workflows.hold import HOLD_EXPIRED, hold_invoice_confirm, invoice_confirm
    from workflows.invoicing import invoice_when_billing_is_back
    from workflows.journey_news import start_journey
    from workflows.policies import DB_RETRY, PEER_RETRY, UNTIL_DONE
    from workflows.saga import Compensations, DecidingSaga, run_saga
    from workflows.search_attributes import BOOKING_STATUS
    from workflows.step_inputs import BookingSteps
    from workflows.steps import forward, undo


@workflow.defn(name=booking.WORKFLOW)
class BookingWorkflow(DecidingSaga):
    @workflow.init
    def __init__(self, request: BookingRequest) -> None:
        super().__init__()
        self._fingerprint = request.fingerprint
        self._progress: BookingProgress | None = None
        self._ended = False

    @workflow.query(name=booking.PROGRESS_QUERY)
    def progress(self) -> BookingProgress | None:
        return self._progress

    @workflow.update(name=booking.ANSWER_UPDATE)
    async def answer(self, fingerprint: str) -> BookingProgress:
        """What the API waits for (update-with-start: one call starts the run, or joins the
        one the key already started, and returns when there is an answer, with no polling):
        the progress once the booking is SCHEDULED, or the saga's failure once it is undone,
        raised as the non-retryable ApplicationError it names."""
        await workflow.wait_condition(lambda: self._answered() or self._ended)
        if self._answered():
            assert self._progress is not None
            return self._progress
        decision = self._decision
        assert decision is not None, "a run that ended unanswered has decided"
        raise ApplicationError(decision.detail, type=decision.error_type, non_retryable=True)

    @answer.validator
    def _same_request(self, fingerprint: str) -> None:
        """Rejected before it is recorded: the same key with another request body."""
        if fingerprint != self._fingerprint:
            raise ApplicationError(
                "this Idempotency-Key was already used with a different request",
                type=booking.KEY_REUSED,
                non_retryable=True,
            )

    @workflow.run
    async def run(self, request: BookingRequest) -> BookingResult:
        self._progress = BookingProgress(
            appointment_id=request.appointment_id,
            fingerprint=request.fingerprint,
            status=BookingStatus.PENDING,
            step="validate_patient",
        )
        workflow.upsert_search_attributes([BOOKING_STATUS.value_set(BookingStatus.PENDING)])
        try:
            outcome = await run_saga(
                lambda compensations: self._book(request, compensations),
                self._decide,
                fault_type=booking.FAILED,
            )
        except (Exception, asyncio.CancelledError) as error:
            await self._answer_waiting_requests()
            if _hold_expired(error) and request.waitlist is None:
                end = end_of(request.start, request.duration_minutes)
                await offer_to_the_waitlist(
                    freed_slot(
                        request.doctor_id,
                        request.start,
                        end,
                        FreedBy.HOLD_EXPIRED,
                        request.appointment_id,
                    )
                )
            raise
        await self._answer_waiting_requests()
        return outcome

    def _answered(self) -> bool:
        return self._progress is not None and self._progress.status in ANSWERED

    async def _answer_waiting_requests(self) -> None:
        """The run ends (undone, or done): every ``answer`` still waiting gets its reply
        before the run closes."""
        self._ended = True
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _book(self, r: BookingRequest, compensations: Compensations) -> BookingOutcome:
        steps = BookingSteps(r, workflow.info().workflow_id)
        local = r.local_steps

        self._step("validate_patient")
        await forward(PeerActivities.validate_patient, steps.patient_check(), PEER_RETRY, local)

        async def persist_pending(held: HeldSlot) -> None:
            self._step("persist_pending")
            compensations.add(
                "mark_failed", undo(AppointmentActivities.mark_failed, steps.failed())
            )
            await forward(
                AppointmentActivities.persist_pending,
                steps.new_appointment(held.hold_id),
                retry_policy=DB_RETRY,
                local=local,
            )

        adopted = r.adopted_hold()
        if adopted is not None:  # the round's or the caller's hold: never checked nor released
            held = HeldSlot(hold_id=adopted.hold_id, expires_at=adopted.expires_at)
            invoice = await invoice_confirm(
                held,
                steps.invoice_order(),
                compensations,
                local=local,
                billing_outage_policy=r.billing_outage_policy,
                after_the_hold=persist_pending,
                step=self._step,
            )
        else:
            self._step("check_availability")
            await forward(PeerActivities.check_availability, steps.slot_check(), PEER_RETRY, local)
            held, invoice = await hold_invoice_confirm(
                steps.reservation(),
                steps.invoice_order(),
                compensations,
                local=local,
                billing_outage_policy=r.billing_outage_policy,
                after_the_hold=persist_pending,
                step=self._step,
            )

        # The Doctor Service has booked the slot: the commit point. Marking SCHEDULED is
        # forward-only now, retried until done (an undo after a lost answer could leave a
        # SCHEDULED appointment without its slot).
        compensations.commit()
        self._step("mark_scheduled")
        scheduled = await forward(
            AppointmentActivities.mark_scheduled,
            steps.scheduled(invoice),
            retry_policy=UNTIL_DONE,
            local=local,
        )
        if invoice:
            invoice_id: str | None = invoice.invoice_id
            # Answered first: the update returns with this workflow task, and the journey
            # starts right after (its start is one more round trip to the server, which the
            # patient need not wait for). The run completes once the journey runs.
            self._set_status(BookingStatus.SCHEDULED, step="done")
            await start_journey(r, scheduled)
        else:
            invoice_id = await self._invoice_later(steps, held, r, scheduled)
            self._set_status(BookingStatus.SCHEDULED, step="done")
        return BookingOutcome(
            appointment_id=r.appointment_id,
            status="SCHEDULED",
            hold_id=held.hold_id,
            invoice_id=invoice_id,
        )

    async def _invoice_later(
        self,
        steps: BookingSteps,
        held: HeldSlot,
        r: BookingRequest,
        scheduled: AppointmentSnapshot,
    ) -> str | None:
        """Shown as AWAITING_BILLING and step waiting_for_billing; the API answers the
        booking (SCHEDULED, no invoice yet) without waiting for this. The journey starts
        before the wait: reminders do not wait for Billing."""
        self._set_status(BookingStatus.AWAITING_BILLING, step="waiting_for_billing")
        await start_journey(r, scheduled)
        return await invoice_when_billing_is_back(
            steps.invoice_order(), held.hold_id, steps.request.billing_retry_max_interval_seconds
        )

    def _step(self, name: str) -> None:
        assert self._progress is not None
        self._progress = self._progress.model_copy(update={"step": name})

    def _set_status(self, status: BookingStatus, **update: str | None) -> None:
        assert self._progress is not None
        self._progress = self._progress.model_copy(update={"status": status, **update})
        workflow.upsert_search_attributes([BOOKING_STATUS.value_set(status)])

    def _decide(self, decision: SagaDecision) -> None:
        """Also shown in the progress query and, as BookingStatus, in the Web UI."""
        super()._decide(decision)
        assert self._progress is not None
        self._set_status(
            BookingStatus.REJECTED if decision.refused else BookingStatus.FAILED,
            step="compensating",
            failed_step=self._progress.step,
            error_type=decision.error_type,
            error_detail=decision.detail,
        )


def _hold_expired(error: BaseException) -> bool:
    """Whether the run failed because its hold expired (its undoing done)."""
    return isinstance(error, ApplicationError) and error.type == HOLD_EXPIRED
