"""SlotOfferWorkflow: one offer round per freed slot (workflows/contracts/waitlist.py).

    anyone waiting for the slot?            no -> NO_CANDIDATE
    -> record the round, hold the slot at the Doctor Service until the cutoff
                                            refused -> SLOT_TAKEN
    -> until the cutoff:
         quiet hours: wait them out (QUIET)
         offer it to the best candidate (OFFERED) for the offer's time
           expired, declined, or the entry left -> the next candidate
           accepted -> the booking saga, as a child, with the round's hold (BOOKING)
             booked -> FULFILLED, the hold is the appointment's now: BOOKED
             refused -> the accept is answered so, the next candidate
    -> nobody left (NO_CANDIDATE) or the cutoff (CUTOFF): release the hold

Exactly one booking: accept and decline are updates, decided one at a time in the
workflow. Their validators refuse an offer the round did not make, another patient's, one
expired or closed; the handler checks again before it awaits anything (the validators of
many updates in one activation may all run before the first handler), and the first
handler marks the decision, so every other accept of that offer is refused OFFER_CLOSED.

The store decides whom an offer goes to (activities/waitlist.py): the round only knows
the entries it passed over. The history stays small: the round continues as new after
``OFFERS_PER_RUN`` offers, or when the server suggests it, carrying its hold."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        CandidateQuery,
        Fulfilment,
        HeldSlot,
        OfferClosing,
        OfferOrder,
        RoundEnd,
        RoundHold,
        SlotReservation,
    )
    from activities.peers import PeerActivities
    from activities.waitlist import WaitlistActivities
    from domain.events import EventContext
    from domain.waitlist import OfferStatus
    from workflows.contracts import booking, waitlist
    from workflows.contracts.booking import (
        BookingOutcome,
        BookingRequest,
        BookingResult,
        WaitlistHold,
    )
    from workflows.contracts.saga import SagaRejected
    from workflows.contracts.waitlist import (
        AcceptOffer,
        DeclineOffer,
        FreedSlot,
        OfferAccepted,
        OfferRoundRequest,
        OpenOffer,
        RoundOutcome,
        RoundView,
        WaitlistStatus,
    )
    from workflows.policies import PEER_RETRY, STEP_TIMEOUT, UNTIL_DONE
    from workflows.search_attributes import (
        APPOINTMENT_ID,
        DOCTOR_ID,
        PATIENT_ID,
        WAITLIST_STATUS,
    )
    from workflows.steps import let_go, until_done

# The booking's result: its outcome, or the refusal it completed with (a union, which the
# SDK's result_type takes as a type).
BOOKING_RESULT = cast(type, BookingResult)
A = TypeVar("A")
R = TypeVar("R")

# Continue as new after this many offers in one run.
OFFERS_PER_RUN = 50
HOLD_REFUSED = frozenset({"SlotUnavailable", "SlotNotOffered"})
# The hold outlives the cutoff by this much: an offer accepted in its last second (an offer
# may end at the cutoff) still gets the time a booking's own hold gives it to confirm. The
# round lets the hold go itself when it ends unbooked; this only bounds a round that died.
BOOKING_GRACE = timedelta(minutes=5)


class _State(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the entry left


@dataclass
class _Made:
    """An offer this run made, and what became of it."""

    offer: OpenOffer
    state: _State = _State.OPEN
    closed: bool = False  # its closing is in the store (a decline waits for it)


@dataclass(frozen=True)
class _Refusal:
    type: str
    detail: str


def _refused(type_: str, detail: str) -> ApplicationError:
    return ApplicationError(detail, type=type_, non_retryable=True)


@workflow.defn(name=waitlist.WORKFLOW)
class SlotOfferWorkflow:
    @workflow.init
    def __init__(self, request: OfferRoundRequest) -> None:
        self._slot = request.slot
        self._rules = request.terms.rules()
        self._booking_terms = request.booking
        self._cutoff = self._rules.cutoff(request.slot.start.astimezone(UTC))
        self._hold_id = request.hold_id
        self._hold_expires_at = request.hold_expires_at
        self._passed_over = list(request.passed_over)
        self._offers_made = request.offers_made
        self._freed_at = request.freed_at or workflow.now()
        self._status = WaitlistStatus.HOLDING
        self._offers: dict[str, _Made] = {}
        self._current: _Made | None = None
        self._accepted: AcceptOffer | None = None
        self._answers: dict[str, OfferAccepted | _Refusal] = {}
        self._appointment_id: str | None = None

    # --- what it is told -------------------------------------------------------------------

    @workflow.signal(name=waitlist.SLOT_FREED_SIGNAL)
    def slot_freed(self, slot: FreedSlot) -> None:
        """The start's signal, or the slot freed again while its round runs: nothing new."""
        workflow.logger.info("slot %s freed (%s): its round runs", slot.round_id, slot.freed_by)

    @workflow.signal(name=waitlist.ENTRY_LEFT_SIGNAL)
    def entry_left(self, offer_id: str) -> None:
        """The entry holding ``offer_id`` left: the store withdrew the offer; move on."""
        made = self._offers.get(offer_id)
        if made is not None and made.state is _State.OPEN:
            made.state, made.closed = _State.WITHDRAWN, True

    @workflow.update(name=waitlist.ACCEPT_UPDATE)
    async def accept(self, accept: AcceptOffer) -> OfferAccepted:
        """Book the offer (once): returns when it is booked, or raises the booking's
        refusal."""
        made = self._open(accept.offer_id, accept.patient_id)  # again: see the module doc
        made.state = _State.ACCEPTED
        self._accepted = accept
        await workflow.wait_condition(lambda: accept.offer_id in self._answers)
        answer = self._answers[accept.offer_id]
        if isinstance(answer, _Refusal):
            raise _refused(answer.type, answer.detail)
        return answer

    @accept.validator
    def _may_accept(self, accept: AcceptOffer) -> None:
        self._open(accept.offer_id, accept.patient_id)

    @workflow.update(name=waitlist.DECLINE_UPDATE)
    async def decline(self, decline: DeclineOffer) -> None:
        """Returns once the store has the offer declined."""
        made = self._open(decline.offer_id, decline.patient_id)
        made.state = _State.DECLINED
        await workflow.wait_condition(lambda: made.closed)

    @decline.validator
    def _may_decline(self, decline: DeclineOffer) -> None:
        self._open(decline.offer_id, decline.patient_id)

    def _open(self, offer_id: str, patient_id: str) -> _Made:
        """The open offer ``offer_id`` of ``patient_id``, or the refusal that says why not."""
        made = self._offers.get(offer_id)
        if made is None or made.offer.patient_id != patient_id:
            raise _refused(waitlist.OFFER_NOT_FOUND, f"no offer {offer_id} of this patient")
        if made.state is _State.EXPIRED or (
            made.state is _State.OPEN and workflow.now() >= made.offer.expires_at
        ):
            at = made.offer.expires_at.isoformat()
            raise _refused(waitlist.OFFER_EXPIRED, f"the offer {offer_id} expired at {at}")
        if made.state is not _State.OPEN:
            raise _refused(waitlist.OFFER_CLOSED, f"the offer {offer_id} was {made.state}")
        return made

    @workflow.query(name=waitlist.VIEW_QUERY)
    def view(self) -> RoundView:
        current = self._current
        return RoundView(
            slot=self._slot,
            status=self._status,
            offer=current.offer if current and current.state is _State.OPEN else None,
            passed_over=tuple(self._passed_over),
            offers_made=self._offers_made,
            cutoff_at=self._cutoff,
            appointment_id=self._appointment_id,
        )

    # --- the round -------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: OfferRoundRequest) -> RoundOutcome:
        workflow.upsert_search_attributes(
            [DOCTOR_ID.value_set(self._slot.doctor_id), WAITLIST_STATUS.value_set(self._status)]
        )
        if self._hold_id is None:
            if workflow.now() >= self._cutoff:
                return await self._end(WaitlistStatus.CUTOFF)
            candidates = await self._activity(
                WaitlistActivities.candidates,
                CandidateQuery(slot=self._slot, passed_over=tuple(self._passed_over)),
            )
            if not candidates.count:
                return await self._end(WaitlistStatus.NO_CANDIDATE)
            if not await self._hold():
                return await self._end(WaitlistStatus.SLOT_TAKEN)
        while True:
            if (
                len(self._offers) >= OFFERS_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried(request))
            now = workflow.now()
            if now >= self._cutoff:
                return await self._end(WaitlistStatus.CUTOFF)
            sendable = self._rules.sendable_at(now)
            if sendable > now:
                self._show(WaitlistStatus.QUIET)
                await workflow.sleep(min(sendable, self._cutoff) - now)
                continue
            expires_at = self._rules.expiry(now, self._slot.start)
            if expires_at is None:  # the offer would end after the cutoff
                return await self._end(WaitlistStatus.CUTOFF)
            self._show(WaitlistStatus.HOLDING)
            made = await self._activity(
                WaitlistActivities.make_offer,
                OfferOrder(
                    round=self._round(),
                    offer_id=str(workflow.uuid4()),
                    offered_at=now,
                    expires_at=expires_at,
                    passed_over=tuple(self._passed_over),
                ),
            )
            if made.offer is None:
                return await self._end(WaitlistStatus.NO_CANDIDATE)
            if await self._offered(made.offer):
                return await self._end(WaitlistStatus.BOOKED)

    def _round(self) -> RoundHold:
        slot = self._slot
        return RoundHold(
            round_id=workflow.info().workflow_id,
            doctor_id=slot.doctor_id,
            start=slot.start,
            end=slot.end,
            held_until=self._cutoff,
        )

    async def _hold(self) -> bool:
        """Record the round (staff are told the slot is offered), then hold the slot until
        the cutoff (and ``BOOKING_GRACE``); whether the Doctor Service gave the hold."""
        await self._activity(WaitlistActivities.save_round, self._round())
        info = workflow.info()
        slot = self._slot
        reservation = SlotReservation(
            doctor_id=slot.doctor_id,
            patient_id="waitlist",
            start=slot.start,
            duration_minutes=max(1, int((slot.end - slot.start) / timedelta(minutes=1))),
            idempotency_key=f"{info.workflow_id}/{info.first_execution_run_id}/hold",
            caller=self._caller(),
            ttl_seconds=max(
                1, int((self._cutoff + BOOKING_GRACE - workflow.now()).total_seconds())
            ),
        )
        try:
            held: HeldSlot = await workflow.execute_activity_method(
                PeerActivities.reserve_slot,
                reservation,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=PEER_RETRY,
            )
        except ActivityError as error:
            cause = error.cause
            if not (isinstance(cause, ApplicationError) and cause.type in HOLD_REFUSED):
                # Not a refusal: a hold may have been taken whose answer was lost.
                await until_done(PeerActivities.release_slot, reservation)
            workflow.logger.info("slot %s not held: %s", info.workflow_id, error)
            return False
        self._hold_id, self._hold_expires_at = held.hold_id, held.expires_at
        return True

    async def _offered(self, offer: OpenOffer) -> bool:
        """Wait for the answer to ``offer`` until it expires; whether it booked the slot."""
        made = self._offers.setdefault(offer.offer_id, _Made(offer))
        self._current = made
        self._offers_made += 1
        self._show(WaitlistStatus.OFFERED)
        self._accepted = None
        wait = offer.expires_at - workflow.now()
        if wait > timedelta(0):
            with contextlib.suppress(TimeoutError):  # no answer: it expired
                await workflow.wait_condition(
                    lambda: made.state is not _State.OPEN,
                    timeout=wait,
                    timeout_summary="the offer expires",
                )
        if made.state is _State.OPEN:
            made.state = _State.EXPIRED
        booked = False
        if made.state is _State.ACCEPTED:
            assert self._accepted is not None
            booked = await self._book(made, self._accepted)
        elif made.state in (_State.EXPIRED, _State.DECLINED):
            outcome = OfferStatus.DECLINED if made.state is _State.DECLINED else OfferStatus.EXPIRED
            await self._close(made, outcome)
        if not booked:
            self._passed_over.append(offer.entry_id)
        self._current = None
        return booked

    async def _close(self, made: _Made, outcome: OfferStatus, reason: str | None = None) -> None:
        offer = made.offer
        closing = OfferClosing(
            entry_id=offer.entry_id,
            offer_id=offer.offer_id,
            outcome=outcome,
            idempotency_key=f"{workflow.info().workflow_id}/{offer.offer_id}/{outcome.lower()}",
            reason=reason,
        )
        await self._activity(WaitlistActivities.close_offer, closing)
        made.closed = True

    async def _book(self, made: _Made, accept: AcceptOffer) -> bool:
        """The booking saga, as a child, on the round's hold; whether it booked. Its
        refusal is the accept's answer, and the offer is closed EXPIRED (booking_failed):
        the hold is still the round's, for the next candidate."""
        self._show(WaitlistStatus.BOOKING)
        offer = made.offer
        assert self._hold_id is not None
        assert self._hold_expires_at is not None
        request = self._booking_request(offer, accept, self._hold_id, self._hold_expires_at)
        refusal: _Refusal | None = None
        try:
            result: BookingResult = await workflow.execute_child_workflow(
                booking.WORKFLOW,
                request,
                id=f"booking-waitlist-{offer.offer_id}",
                parent_close_policy=ParentClosePolicy.ABANDON,
                memo={"fingerprint": request.fingerprint, "appointment_id": request.appointment_id},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(APPOINTMENT_ID, request.appointment_id),
                        SearchAttributePair(PATIENT_ID, request.patient_id),
                        SearchAttributePair(DOCTOR_ID, request.doctor_id),
                    ]
                ),
                result_type=BOOKING_RESULT,
            )
        except ChildWorkflowError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type:
                refusal = _Refusal(cause.type, cause.message)
            else:
                refusal = _Refusal(booking.FAILED, str(cause or error))
        else:
            if isinstance(result, SagaRejected):
                refusal = _Refusal(result.type, result.detail)
        if refusal is not None:
            workflow.logger.info("the booking of offer %s failed: %s", offer.offer_id, refusal)
            self._answers[offer.offer_id] = refusal
            made.state = _State.EXPIRED
            await self._close(made, OfferStatus.EXPIRED, reason="booking_failed")
            self._show(WaitlistStatus.HOLDING)
            return False
        assert isinstance(result, BookingOutcome)
        self._appointment_id = result.appointment_id
        workflow.upsert_search_attributes([APPOINTMENT_ID.value_set(result.appointment_id)])
        await self._activity(
            WaitlistActivities.fulfil,
            Fulfilment(
                entry_id=offer.entry_id,
                offer_id=offer.offer_id,
                appointment_id=result.appointment_id,
                idempotency_key=f"{workflow.info().workflow_id}/{offer.offer_id}/fulfilled",
            ),
        )
        self._hold_id = None  # the appointment's now: never released by the round
        self._answers[offer.offer_id] = OfferAccepted(
            offer_id=offer.offer_id, appointment_id=result.appointment_id
        )
        return True

    def _booking_request(
        self, offer: OpenOffer, accept: AcceptOffer, hold_id: str, hold_expires_at: datetime
    ) -> BookingRequest:
        terms = self._booking_terms
        return BookingRequest(
            appointment_id=str(workflow.uuid4()),
            patient_id=offer.patient_id,
            doctor_id=self._slot.doctor_id,
            start=offer.start,
            duration_minutes=int((offer.end - offer.start) / timedelta(minutes=1)),
            reason=accept.reason,
            idempotency_key=offer.offer_id,
            fingerprint=offer.offer_id,
            caller=accept.caller,
            billing_outage_policy=terms.billing_outage_policy,
            billing_retry_max_interval_seconds=terms.billing_retry_max_interval_seconds,
            local_steps=terms.local_steps,
            journey=terms.journey,
            waitlist=WaitlistHold(
                hold_id=hold_id,
                expires_at=hold_expires_at,
                round_id=workflow.info().workflow_id,
                offer_id=offer.offer_id,
            ),
        )

    async def _end(self, outcome: WaitlistStatus) -> RoundOutcome:
        """Close an offer still open, let the hold go (unless the slot is booked), and
        record the round's end."""
        current = self._current
        if current is not None and current.state is _State.OPEN:
            current.state = _State.EXPIRED
            await self._close(current, OfferStatus.EXPIRED)
        if self._hold_id is not None:
            await let_go(None, self._hold_id, self._caller())
            self._hold_id = None
        await self._activity(
            WaitlistActivities.end_round,
            RoundEnd(
                round_id=workflow.info().workflow_id, outcome=outcome, freed_at=self._freed_at
            ),
        )
        self._show(outcome)
        return RoundOutcome(
            status=outcome, offers_made=self._offers_made, appointment_id=self._appointment_id
        )

    # --- plumbing --------------------------------------------------------------------------

    def _show(self, status: WaitlistStatus) -> None:
        """``WaitlistStatus`` in the Web UI, upserted when it changes."""
        if status is self._status:
            return
        self._status = status
        workflow.upsert_search_attributes([WAITLIST_STATUS.value_set(status)])

    def _caller(self) -> EventContext:
        info = workflow.info()
        return EventContext(actor=waitlist.ACTOR, workflow_id=info.workflow_id, run_id=info.run_id)

    def _carried(self, request: OfferRoundRequest) -> OfferRoundRequest:
        return request.model_copy(
            update={
                "hold_id": self._hold_id,
                "hold_expires_at": self._hold_expires_at,
                "passed_over": tuple(self._passed_over),
                "offers_made": self._offers_made,
                "freed_at": self._freed_at,
            }
        )

    async def _activity(self, step: Callable[[Any, A], Awaitable[R]], arg: A) -> R:
        """A round's step on the store: retried until done (the store is ours to wait for)."""
        return await workflow.execute_activity_method(
            step, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=UNTIL_DONE
        )
