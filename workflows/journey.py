"""AppointmentJourneyWorkflow: what happens to an appointment after it is booked.

    started by the booking saga when the appointment first becomes SCHEDULED
    -> each reminder at its offset before the start (never inside quiet hours; skipped if
       its moment had passed when the journey learnt of the start)
    -> the no-show check at start + grace: still SCHEDULED or CONFIRMED -> the no-show
       fee at Billing, then NO_SHOW (compensation: void the fee)
    -> ends when the appointment reaches a terminal status

One timer at a time: the next step of ``domain.journey.next_step``, waited for with
``wait_condition`` so that news from the lifecycle (the ``appointment_changed`` signal:
a reschedule, a check-in, a cancellation) wakes the journey and it plans again, the
"updatable timer" of Temporal's samples. The signal is a hint, never the truth: when a
timer fires, an activity reads the stored appointment and acts only if the action still
applies, by a conditional transition on the version it read, and tells the journey what
it found. A lost signal costs a timer that fires for nothing; a late one (an older
version) is ignored.

The history stays small: a journey continues as new when the server suggests it, or
after ``CHANGES_PER_RUN`` changes (many reschedules), carrying what it knows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.journey import JourneyActivities
    from activities.models import FeeOrder, JourneyRef, NoShowCheck, NoShowRecord, ReminderOrder
    from activities.peers import PeerActivities
    from domain.events import EventContext
    from domain.journey import NextAction, Step, next_step
    from domain.model import REMINDABLE
    from workflows.attention import needs_attention, refused_for_good
    from workflows.contracts import journey
    from workflows.contracts.journey import Facts, JourneyOutcome, JourneyRequest, JourneyView
    from workflows.policies import STEP_TIMEOUT, UNTIL_DONE
    from workflows.saga import Compensations, is_refusal
    from workflows.search_attributes import NEXT_ACTION_AT
    from workflows.steps import undo

A = TypeVar("A")
R = TypeVar("R")

# Continue as new after this many changes heard (signals and activity answers) in a run.
CHANGES_PER_RUN = 200
# With nothing left to time (checked in, waiting for COMPLETED), read the stored state
# this often, in case the signal of the end was lost.
IDLE_CHECK = timedelta(hours=24)
# A step whose activity found nothing new to do (a clock a little behind the server's)
# waits this long before it is planned again, so that nothing spins.
SETTLE = timedelta(minutes=1)


@workflow.defn(name=journey.WORKFLOW)
class AppointmentJourneyWorkflow:
    @workflow.init
    def __init__(self, request: JourneyRequest) -> None:
        self._id = request.appointment_id
        self._rules = request.rules.rules()
        self._facts = request.facts
        self._planned_at = request.planned_at or workflow.now()
        # The reminders handled (sent, or found not to apply) for the current start.
        self._handled = set(request.handled) | set(request.facts.reminders_sent)
        self._no_show_attempts = request.no_show_attempts
        self._changes = 0
        self._news = False
        self._step: Step | None = None

    @workflow.signal(name=journey.CHANGED_SIGNAL)
    def changed(self, facts: Facts) -> None:
        self._learn(facts)

    @workflow.query(name=journey.VIEW_QUERY)
    def view(self) -> JourneyView:
        return JourneyView(
            status=self._facts.status,
            start=self._facts.start,
            reminders_handled=tuple(sorted(self._handled, reverse=True)),
            next_action=self._step.action if self._step else None,
            next_action_at=self._step.at if self._step else None,
        )

    @workflow.run
    async def run(self, request: JourneyRequest) -> JourneyOutcome:
        while not self._facts.ended:
            if self._changes >= CHANGES_PER_RUN or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried(request))
            self._plan()
            if self._step is None:
                if not await self._news_within(IDLE_CHECK):
                    self._learn(await self._activity(JourneyActivities.facts, self._ref()))
                continue
            if await self._news_within(self._step.at - workflow.now()):
                continue  # something changed: plan again
            if self._step.action is NextAction.REMINDER:
                await self._remind(self._step)
            else:
                await self._check_no_show(self._step)
        self._step = None  # the query shows no next action once it ended
        self._show(None)
        return JourneyOutcome(appointment_id=self._id, status=self._facts.status)

    # --- what the journey knows ------------------------------------------------------------

    def _learn(self, facts: Facts) -> None:
        """Take news newer than what is known (a late signal, an older version, is not)."""
        if facts.version < self._facts.version:
            return
        if facts.start != self._facts.start:
            self._planned_at = workflow.now()  # reminders already due for it are skipped
            self._handled = set()
        self._handled |= set(facts.reminders_sent)
        self._news = self._news or facts != self._facts
        self._facts = facts
        self._changes += 1

    def _plan(self) -> None:
        facts = self._facts
        self._step = next_step(
            self._rules,
            facts.start,
            planned_at=self._planned_at,
            sent=frozenset(self._handled),
            # Reminders and the no-show check are for an appointment still to come: none
            # once it has started or the patient is checked in.
            started=workflow.now() >= facts.start or facts.status not in REMINDABLE,
            awaits_no_show_check=facts.status in REMINDABLE,
        )
        self._show(self._step.at if self._step else None)

    def _show(self, at: datetime | None) -> None:
        """``NextActionAt`` in the Web UI: what fires in the next hour is one query."""
        workflow.upsert_search_attributes(
            [NEXT_ACTION_AT.value_set(at) if at else NEXT_ACTION_AT.value_unset()]
        )

    async def _news_within(self, wait: timedelta) -> bool:
        """Wait up to ``wait`` for news; whether some came (the timer is then moot)."""
        self._news = False
        if wait <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(lambda: self._news, timeout=wait)
        except TimeoutError:
            return False
        return True

    def _carried(self, request: JourneyRequest) -> JourneyRequest:
        return request.model_copy(
            update={
                "facts": self._facts,
                "planned_at": self._planned_at,
                "handled": tuple(sorted(self._handled)),
                "no_show_attempts": self._no_show_attempts,
            }
        )

    # --- the steps -------------------------------------------------------------------------

    def _ref(self) -> JourneyRef:
        return JourneyRef(appointment_id=self._id)

    def _key(self, *parts: object) -> str:
        """Keys per start: a reminder or a no-show for one start is never mistaken for
        one of another."""
        start = self._facts.start.astimezone(UTC).isoformat()
        return "/".join([journey.workflow_id(self._id), start, *(str(p) for p in parts)])

    async def _remind(self, step: Step) -> None:
        assert step.offset_minutes is not None
        order = ReminderOrder(
            appointment_id=self._id,
            start=self._facts.start,
            offset_minutes=step.offset_minutes,
            idempotency_key=self._key("reminder", step.offset_minutes),
        )
        result = await self._activity(JourneyActivities.send_reminder, order)
        if result.facts.start == order.start:
            self._handled.add(step.offset_minutes)  # sent, or it no longer applies: once
        self._learn(result.facts)

    async def _check_no_show(self, step: Step) -> None:
        """Plan (a read), charge the fee, record NO_SHOW if it still applies; the fee is
        voided when it no longer does (the patient was checked in meanwhile)."""
        start = self._facts.start
        plan = await self._activity(
            JourneyActivities.plan_no_show, NoShowCheck(appointment_id=self._id, start=start)
        )
        if not plan.applies:
            self._learn(plan.facts)
            if plan.facts.status in REMINDABLE and plan.facts.start == start:
                await self._news_within(SETTLE)  # not yet by the store's clock
            return
        self._no_show_attempts += 1
        attempt = self._no_show_attempts  # a fee voided once is never the next one's
        compensations = Compensations()
        fee_invoice_id = None
        if plan.fee_cents:
            fee = FeeOrder(
                appointment_id=self._id,
                patient_id=plan.patient_id,
                amount_cents=plan.fee_cents,
                what="No-show fee",
                idempotency_key=self._key("no-show", attempt, "fee"),
                caller=EventContext(actor=journey.ACTOR),
            )
            fee_invoice_id = await self._charge(fee, compensations)
        record = NoShowRecord(
            appointment_id=self._id,
            start=start,
            fee_invoice_id=fee_invoice_id,
            idempotency_key=self._key("no-show", attempt),
        )
        try:
            recorded = await self._activity(JourneyActivities.record_no_show, record)
        except ActivityError as error:
            if not is_refusal(error):
                raise
            await compensations.run()
            raise
        if not recorded.recorded:
            await compensations.run()  # it no longer applied: the fee goes
        self._learn(recorded.facts)

    async def _charge(self, fee: FeeOrder, compensations: Compensations) -> str | None:
        """The no-show fee, ordered by key (its void registered first), retried until
        Billing answers. Billing refusing it for good leaves the no-show without a fee and
        the run to an operator (NeedsAttention)."""
        compensations.add("void_no_show_fee", undo(PeerActivities.void_invoice, fee.voiding()))
        try:
            issued = await self._activity(PeerActivities.issue_fee, fee)
        except ActivityError as error:
            if not refused_for_good(error):
                raise
            needs_attention("no_show_fee", error)
            return None
        return issued.invoice_id

    async def _activity(self, step: Callable[[Any, A], Awaitable[R]], arg: A) -> R:
        """A journey step: a regular activity (listed in the Web UI while it runs), retried
        until done: a journey does not give up on a peer or the database that is away."""
        return await workflow.execute_activity_method(
            step, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=UNTIL_DONE
        )
