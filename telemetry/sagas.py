"""How sagas end and how long their steps take: the worker's instruments, and the rule
that names a saga's outcome from the way its run ended.

The rule follows ``workflows.saga.run_saga``'s contract: a failed saga fails its run with
ONE non-retryable ``ApplicationError`` whose type is the domain error's for a business
refusal, and the saga's fault type (``BookingFailed``, ``SagaFailed``) for a fault, after
its compensations ran."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from typing import Literal, get_args

from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Histogram
from temporalio.exceptions import ApplicationError, FailureError, is_cancelled_exception

from telemetry.naming import LATENCY_BUCKETS, PREFIX
from workflows.contracts.saga import SagaRejected

Outcome = Literal["completed", "refused", "compensated", "failed"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


def outcome_of(
    error: BaseException | None, refusals: Collection[str], result: object = None
) -> Outcome | None:
    """The outcome of a run that returned ``result`` (``error`` None) or raised ``error``.

    - ``completed``: the run returned its outcome.
    - ``refused``: a business refusal: the run returned a ``SagaRejected``, or (recorded
      before that rule, or its undoing left to an operator) raised an ``ApplicationError``
      typed as one of ``refusals``, the domain's business errors. The saga undid what it
      had done.
    - ``compensated``: a fault (peer down past its retries, ...) the saga undid, i.e.
      ``run_saga``'s non-retryable fault error; a cancelled run too, which ``run_saga``
      also undoes before it ends.
    - ``failed``: any other error that ends the run (not raised through ``run_saga``).
    - None: the error does not end the run. Temporal fails only the workflow *task* on an
      error that is not a Temporal failure (a bug), and retries that task; the run
      goes on, so there is no outcome yet.
    """
    if error is None:
        return "refused" if isinstance(result, SagaRejected) else "completed"
    if isinstance(error, asyncio.CancelledError) or is_cancelled_exception(error):
        return "compensated"
    if isinstance(error, ApplicationError) and error.type in refusals:
        return "refused"
    if isinstance(error, ApplicationError) and error.non_retryable:
        return "compensated"
    if isinstance(error, FailureError):
        return "failed"
    return None


class SagaInstruments:
    def __init__(self, registry: CollectorRegistry, refusals: Collection[str]) -> None:
        self._refusals = frozenset(refusals)
        self.outcomes = Counter(
            f"{PREFIX}_saga_outcomes",
            "Saga runs ended, by workflow and outcome (completed, refused, compensated, "
            "failed); counted once per run, never on replay",
            ["workflow", "outcome"],
            registry=registry,
        )
        self.step_seconds = Histogram(
            f"{PREFIX}_saga_step_seconds",
            "Duration of one attempt of a saga step (a Temporal activity), by outcome",
            ["activity", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.needs_attention = Counter(
            f"{PREFIX}_saga_needs_attention",
            "Steps that must finish (compensations, steps after a commit point) refused for "
            "good: each leaves its run marked NeedsAttention for an operator",
            ["activity"],
            registry=registry,
        )

    def prime(self, workflows: Iterable[str]) -> None:
        """Export every workflow's outcomes at 0 from the start: ``rate()`` and
        ``increase()`` then see a run that ends right after a restart."""
        for workflow in workflows:
            for outcome in OUTCOMES:
                self.outcomes.labels(workflow, outcome)

    def saga_ended(self, workflow: str, error: BaseException | None, result: object = None) -> None:
        """Count a run's end. Called from inside the workflow sandbox (through an extern
        function), so it must never raise into the workflow."""
        try:
            outcome = outcome_of(error, self._refusals, result)
            if outcome is not None:
                self.outcomes.labels(workflow, outcome).inc()
        except Exception:
            logger.opt(exception=True).error("saga outcome of {} not counted", workflow)

    def step_done(self, activity: str, ok: bool, seconds: float) -> None:
        self.step_seconds.labels(activity, "ok" if ok else "error").observe(seconds)

    def step_refused_for_good(
        self, activity: str, workflow_id: str | None, error: BaseException
    ) -> None:
        """A step retried until done failed in a way no retry changes: count it, and say it
        at ERROR (the run marks itself NeedsAttention)."""
        self.needs_attention.labels(activity).inc()
        logger.bind(workflow_id=workflow_id, activity=activity).error(
            "{} refused for good in {}; it needs an operator: {}", activity, workflow_id, error
        )
