"""Compensations for a saga: registered before each step runs, run in reverse order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain.errors import BUSINESS_ERRORS
    from workflows.attention import needs_attention
    from workflows.contracts.saga import (
        CANCELLED,
        DECISION_QUERY,
        SagaDecision,
        SagaOutcome,
        SagaRejected,
    )
    from workflows.search_attributes import SAGA_OUTCOME


@dataclass(frozen=True)
class _Compensation:
    name: str
    undo: Callable[[], Awaitable[None]]
    alongside: bool


class Compensations:
    def __init__(self) -> None:
        self._steps: list[_Compensation] = []
        # The compensations refused for good, left to an operator (NeedsAttention).
        self.left_to_an_operator: list[str] = []

    def add(
        self, name: str, undo: Callable[[], Awaitable[None]], *, alongside: bool = False
    ) -> None:
        """Register ``undo`` for the step about to run (before it runs: the step may take
        effect even if its answer is lost). ``alongside`` marks a compensation that nothing
        after it waits for; it runs next to the others, so a peer that is down (say Billing)
        does not keep the appointment PENDING and the slot held while it recovers."""
        self._steps.append(_Compensation(name, undo, alongside))

    def commit(self) -> None:
        """The saga passed its commit point: nothing before it may be undone any more (the
        steps after it are forward-only and retried until done)."""
        self._steps.clear()

    async def run(self) -> None:
        """Run every compensation to the end. Shielded: a workflow cancellation arriving
        now must not stop the undoing half-way. ``asyncio.shield`` alone protects only the
        inner task; the loop keeps waiting for it through further cancellations."""
        undoing = asyncio.ensure_future(self._run())
        while not undoing.done():
            try:
                await asyncio.shield(undoing)
            except asyncio.CancelledError:
                workflow.logger.warning("cancellation requested while compensating: finishing")

    async def _run(self) -> None:
        pending = [
            asyncio.ensure_future(self._attempt(step))
            for step in reversed(self._steps)
            if step.alongside
        ]
        for step in reversed(self._steps):
            if not step.alongside:
                await self._attempt(step)
        await asyncio.gather(*pending)

    async def _attempt(self, step: _Compensation) -> None:
        try:
            await step.undo()
        except Exception as error:  # keep undoing the rest; the failure stays in the history
            self.left_to_an_operator.append(step.name)
            needs_attention(step.name, error)


T = TypeVar("T")


# The business refusals (domain errors): the API answers them 409, 422 or 402. Every other
# failure is a fault, answered 503. Named from the domain, not from the retry policies'
# list, which also holds the open circuit (a fault that must not be retried).
_BUSINESS_ERRORS = {cls.__name__: cls for cls in BUSINESS_ERRORS}
REFUSALS = frozenset(_BUSINESS_ERRORS)

# Runs recorded before a business refusal completed its run (with a ``SagaRejected``
# result) failed it instead, and set no SagaOutcome: they replay so.
REJECTED_OUTCOME = "rejected-outcome"


def is_refusal(error: BaseException) -> bool:
    """Whether a step failed with a business refusal (not a fault, not a cancellation)."""
    cause = error.cause if isinstance(error, ActivityError) else error
    return isinstance(cause, ApplicationError) and cause.type in REFUSALS


def failure_of(error: ActivityError | ApplicationError) -> tuple[bool, str | None, str]:
    """(refused, type, detail) of a failed step. A failure that names itself (a
    non-retryable ApplicationError: a refusal, an open circuit, an expired hold) keeps its
    type; only a business refusal counts as refused. A fault whose retries ran out has no
    type of its own (None): the saga's fault type names it."""
    cause = error.cause if isinstance(error, ActivityError) else error
    detail = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return cause.type in REFUSALS, cause.type or "ApplicationError", detail
    return False, None, detail


class DecidingSaga:
    """Base of every saga workflow: answers the ``decision`` query the API asks when a
    run outlasts its wait budget."""

    def __init__(self) -> None:
        self._decision: SagaDecision | None = None

    @workflow.query(name=DECISION_QUERY)
    def decision(self) -> SagaDecision | None:
        return self._decision

    def _decide(self, decision: SagaDecision) -> None:
        self._decision = decision


def rejected(error_type: str, detail: str) -> SagaRejected:
    """The result of a run refused for a business reason: the domain error it names."""
    refusal = _BUSINESS_ERRORS[error_type]
    return SagaRejected(type=error_type, code=refusal.code, title=refusal.title, detail=detail)


def _ended(outcome: SagaOutcome) -> None:
    workflow.upsert_search_attributes([SAGA_OUTCOME.value_set(outcome)])


async def run_saga(
    body: Callable[[Compensations], Awaitable[T]],
    decided: Callable[[SagaDecision], None],
    fault_type: str = "SagaFailed",
) -> T | SagaRejected:
    """Run a saga's steps; on any failure report the decision (known before the undoing
    ends: a peer that is down may keep a compensation retrying), run the compensations
    (also when the run is cancelled), then end the run:

    - a business refusal whose undoing finished: the run *completes*, returning a
      ``SagaRejected`` that names the refusal (SagaOutcome REJECTED). A refusal is a
      correct answer, not a failure: the Web UI lists the run Completed.
    - anything else fails the run (SagaOutcome FAILED) with one ApplicationError naming
      the cause: its own type for a failure that names itself (an open circuit, an
      expired hold, a refusal whose undoing an operator must finish), ``fault_type`` for
      a fault whose retries ran out. Failed means something broke.

    A run that succeeds ends with SagaOutcome COMPLETED. Runs recorded before this rule
    (``REJECTED_OUTCOME``) fail on a refusal too, and set no SagaOutcome."""
    compensations = Compensations()
    try:
        outcome = await body(compensations)
    except BaseException as error:
        if is_cancelled_exception(error):
            decided(SagaDecision(error_type=CANCELLED, detail="the saga was cancelled"))
            await compensations.run()
            raise  # the run ends CANCELLED, its undoing done
        if not isinstance(error, ActivityError | ApplicationError):
            await compensations.run()
            raise
        refused, named, detail = failure_of(error)
        error_type = named or fault_type
        decided(SagaDecision(error_type=error_type, detail=detail, refused=refused))
        await compensations.run()
        if workflow.patched(REJECTED_OUTCOME):
            if refused and not compensations.left_to_an_operator:
                _ended(SagaOutcome.REJECTED)
                return rejected(error_type, detail)
            _ended(SagaOutcome.FAILED)
        raise ApplicationError(detail, type=error_type, non_retryable=True) from None
    if workflow.patched(REJECTED_OUTCOME):
        _ended(SagaOutcome.COMPLETED)
    return outcome
