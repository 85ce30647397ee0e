"""BookingWorkflow: the booking saga of ARCHITECTURE §2, told as a story of awaits.

    validate patient -> check availability -> reserve slot
    -> [persist PENDING -> create invoice -> confirm the hold]  racing the hold's expiry
    -> mark SCHEDULED
    -> (Billing was unreachable, policy "retry") invoice once Billing is back

Compensations (registered before each step, run in reverse, shielded from cancellation):
void invoice, mark FAILED, release the hold."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from activities.models import (
        HeldSlot,
        HoldAction,
        InvoiceVoid,
        IssuedInvoice,
    )
    from workflows.booking_models import BookingOutcome, BookingProgress, BookingRequest
    from workflows.hold import before_the_hold_expires
    from workflows.invoicing import invoice_now_or_later, invoice_when_billing_is_back
    from workflows.policies import DB_RETRY, PEER_RETRY, STEP_TIMEOUT, UNTIL_DONE
    from workflows.saga import Compensations, DecidingSaga, SagaDecision, run_saga
    from workflows.search_attributes import BOOKING_STATUS, BookingStatus
    from workflows.steps import forward


# Whom the API answers 201: SCHEDULED, also while the run still waits on Billing for the
# invoice (billing outage policy "retry").
ANSWERED = frozenset({BookingStatus.SCHEDULED, BookingStatus.AWAITING_BILLING})
# The ``answer`` update's refusal of a request that reuses a key with another body.
KEY_REUSED = "IdempotencyKeyReused"


@workflow.defn
class BookingWorkflow(DecidingSaga):
    @workflow.init
    def __init__(self, request: BookingRequest) -> None:
        super().__init__()
        self._fingerprint = request.fingerprint
        self._progress: BookingProgress | None = None
        self._ended = False

    @workflow.query
    def progress(self) -> BookingProgress | None:
        return self._progress

    @workflow.update
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
                type=KEY_REUSED,
                non_retryable=True,
            )

    @workflow.run
    async def run(self, request: BookingRequest) -> BookingOutcome:
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
                fault_type="BookingFailed",
            )
        except (Exception, asyncio.CancelledError):
            await self._answer_waiting_requests()
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
        key = workflow.info().workflow_id
        acts = BookingActivities

        await self._step("validate_patient")
        await forward(
            acts.validate_patient, r.patient_check(), retry_policy=PEER_RETRY, local=r.local_steps
        )

        await self._step("check_availability")
        await forward(
            acts.check_availability, r.slot_check(), retry_policy=PEER_RETRY, local=r.local_steps
        )

        await self._step("reserve_slot")
        reservation = r.reservation(key)
        compensations.add(
            "release_slot",
            lambda: workflow.execute_activity_method(
                acts.release_slot,
                reservation,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=UNTIL_DONE,
            ),
        )
        held = await forward(
            acts.reserve_slot, reservation, retry_policy=PEER_RETRY, local=r.local_steps
        )
        invoice = await before_the_hold_expires(
            held, lambda: self._turn_hold_into_booking(r, held, compensations)
        )

        # The Doctor Service has booked the slot: the commit point. Marking SCHEDULED is
        # forward-only now, retried until done (an undo after a lost answer could leave a
        # SCHEDULED appointment without its slot).
        compensations.commit()
        await self._step("mark_scheduled")
        await forward(
            acts.mark_scheduled,
            r.scheduled(key, invoice),
            retry_policy=UNTIL_DONE,
            local=r.local_steps,
        )
        invoice_id = invoice.invoice_id if invoice else await self._invoice_later(r, held)

        self._set_status(BookingStatus.SCHEDULED, step="done")
        return BookingOutcome(
            appointment_id=r.appointment_id,
            status="SCHEDULED",
            hold_id=held.hold_id,
            invoice_id=invoice_id,
        )

    async def _turn_hold_into_booking(
        self, r: BookingRequest, held: HeldSlot, compensations: Compensations
    ) -> IssuedInvoice | None:
        """The steps between taking the hold and confirming it, which race its expiry. The
        invoice, or None when Billing was unreachable and the policy is to invoice later."""
        key = workflow.info().workflow_id
        caller = r.caller
        acts = BookingActivities

        await self._step("persist_pending")
        failed = r.failed(key)
        compensations.add(
            "mark_failed",
            lambda: workflow.execute_activity_method(
                acts.mark_failed,
                failed,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=UNTIL_DONE,
            ),
        )
        await forward(
            acts.persist_pending,
            r.new_appointment(key, held.hold_id),
            retry_policy=DB_RETRY,
            local=r.local_steps,
        )

        await self._step("create_invoice")
        order = r.invoice_order(key)
        void = InvoiceVoid(
            appointment_id=r.appointment_id, idempotency_key=order.idempotency_key, caller=caller
        )
        compensations.add(
            "void_invoice",
            lambda: workflow.execute_activity_method(
                acts.void_invoice,
                void,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=UNTIL_DONE,
            ),
            alongside=True,
        )
        invoice = await invoice_now_or_later(order, r.billing_outage_policy, local=r.local_steps)

        await self._step("confirm_slot")
        await forward(
            acts.confirm_slot,
            HoldAction(hold_id=held.hold_id, caller=caller),
            retry_policy=PEER_RETRY,
            local=r.local_steps,
        )
        return invoice

    async def _invoice_later(self, r: BookingRequest, held: HeldSlot) -> str | None:
        """Shown as AWAITING_BILLING and step waiting_for_billing; the API answers the
        booking (SCHEDULED, no invoice yet) without waiting for this."""
        self._set_status(BookingStatus.AWAITING_BILLING, step="waiting_for_billing")
        return await invoice_when_billing_is_back(
            r.invoice_order(workflow.info().workflow_id),
            held.hold_id,
            r.billing_retry_max_interval_seconds,
        )

    async def _step(self, name: str) -> None:
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
