"""A step that must finish (a compensation, a step after the commit point) is retried until
done. When it is refused for good instead (Billing will not void a paid invoice, a peer
answers off our contract), retrying forever would hide it: the run records the step in
the ``NeedsAttention`` search attribute, logs it at ERROR, and goes on (the worker counts
it too, ``telemetry/interceptor.py``). Operators find such runs in the Web UI with
``NeedsAttention IS NOT NULL``."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.search_attributes import NEEDS_ATTENTION

# Runs recorded before this existed issued no upsert for a failed compensation: they
# replay without it.
_PATCH = "needs-attention"


def refused_for_good(error: BaseException) -> bool:
    """Whether a step retried until done failed for good (it is never retried again)."""
    cause = error.cause if isinstance(error, ActivityError) else error
    return isinstance(cause, ApplicationError) and cause.non_retryable


def left_to_an_operator(error: BaseException) -> bool:
    """Whether a step after the commit point that failed with ``error`` is left to an
    operator, the run going on: when it was refused for good, in runs started since this
    rule (older runs failed there, and replay so)."""
    return refused_for_good(error) and workflow.patched(_PATCH)


def needs_attention(step: str, error: BaseException) -> None:
    workflow.logger.error("%s was refused for good and needs an operator: %s", step, error)
    if workflow.patched(_PATCH):
        workflow.upsert_search_attributes([NEEDS_ATTENTION.value_set(step)])
