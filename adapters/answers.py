"""What a saga run answers a caller that waits for it: its result, its decision once it
failed (known before its compensations end), the booking's progress, and the error each
failure is to the application layer."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from loguru import logger
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.service import RPCError

from application.errors import SagaCancelled, SagaFailed
from domain import errors
from workflows.contracts import booking
from workflows.contracts.booking import BookingProgress
from workflows.contracts.saga import CANCELLED, DECISION_QUERY, SagaDecision, SagaRejected

# A query waits while a workflow task runs local steps: a reader asks for this long only.
PROGRESS_QUERY_TIMEOUT = timedelta(seconds=1)

_REFUSALS: dict[str, type[errors.DomainError]] = {c.__name__: c for c in errors.BUSINESS_ERRORS}


async def outcome_within(
    handle: WorkflowHandle[Any, Any], wait_seconds: float, saga: str
) -> Any | None:
    """The saga's result, None if it still runs after ``wait_seconds``. A refused saga
    raises the domain error it names: its run completed with a ``SagaRejected`` result,
    or (recorded before that rule) failed with an ApplicationError of that type; a failed
    saga raises ``SagaCancelled`` or ``SagaFailed``."""
    try:
        result = await asyncio.wait_for(handle.result(), timeout=wait_seconds)
    except TimeoutError:
        decision = await saga_decision(handle)
        if decision is not None:  # failed, still undoing (say Billing is down)
            raise refusal(decision.error_type, decision.detail, saga) from None
        return None
    except WorkflowFailureError as failure:
        cause = failure.cause
        if isinstance(cause, CancelledError):
            raise refusal(CANCELLED, "the saga was cancelled", saga) from None
        if isinstance(cause, ApplicationError):
            raise refusal(cause.type, cause.message, saga) from None
        raise refusal(None, "the saga failed", saga) from None
    if isinstance(result, SagaRejected):
        raise refusal(result.type, result.detail, saga)
    return result


async def saga_decision(handle: WorkflowHandle[Any, Any]) -> SagaDecision | None:
    """Every saga answers the ``decision`` query; None while it has not failed, or before
    its first workflow task ran."""
    try:
        answer = await handle.query(DECISION_QUERY, result_type=SagaDecision)
        return answer if isinstance(answer, SagaDecision) else None
    except (RPCError, WorkflowQueryFailedError):
        return None


async def booking_progress(handle: WorkflowHandle[Any, Any]) -> BookingProgress | None:
    """The booking saga's progress; None while its first workflow task has not run yet, or
    while a workflow task runs its local steps longer than a reader should wait (a query
    waits for the task to end)."""
    try:
        answer = await handle.query(
            booking.PROGRESS_QUERY, result_type=BookingProgress, rpc_timeout=PROGRESS_QUERY_TIMEOUT
        )
        return answer if isinstance(answer, BookingProgress) else None
    except (RPCError, WorkflowQueryFailedError):
        return None


def refusal(error_type: str | None, detail: str | None, saga: str) -> Exception:
    """The domain error a failed saga names, or what a cancelled or failed one is."""
    if error_type in _REFUSALS:
        return _REFUSALS[error_type].from_detail(detail or "")
    if error_type == CANCELLED:
        return SagaCancelled(saga)
    # The cause (a peer's answer, a database error) stays in our logs and in the
    # Temporal Web UI; callers learn only that a service we depend on did not answer.
    logger.warning("{} saga failed: {}", saga, detail)
    return SagaFailed(saga)
