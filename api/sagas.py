"""Starting a saga (or joining the run its Idempotency-Key already started) and waiting for
its outcome: shared by booking, cancellation and reschedule."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from loguru import logger
from pydantic import BaseModel
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, CancelledError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.problems import ProblemError
from domain import errors
from workflows.saga import SagaDecision
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, PATIENT_ID

W = TypeVar("W")
R = TypeVar("R")

_REFUSALS: dict[str, type[errors.DomainError]] = {c.__name__: c for c in errors.BUSINESS_ERRORS}


def fingerprint(*parts: BaseModel | str) -> str:
    """A request's identity: the same Idempotency-Key must come with the same request."""
    canonical = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class SagaRun:
    """Which run a saga request starts or joins, and what the run is shown and checked by."""

    workflow_id: str
    task_queue: str
    fingerprint: str  # of the request: the same key with another request is refused
    appointment_id: str
    patient_id: str
    doctor_id: str

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


async def start_or_join(
    temporal: Client, run: Callable[[W, Any], Awaitable[R]], request: Any, saga: SagaRun
) -> tuple[WorkflowHandle[W, R], dict[str, Any]]:
    """Start the saga, or get the run this workflow id already has: a retried request
    joins the running saga; one that comes after it ended gets its recorded outcome.
    Never two sagas for one key. A key reused with another request is refused (422)."""
    try:
        handle: WorkflowHandle[W, R] = await temporal.start_workflow(
            run, request, **saga.start_options()
        )
    except WorkflowAlreadyStartedError:
        handle = temporal.get_workflow_handle_for(run, saga.workflow_id)
    memo = await (await handle.describe()).memo()
    if memo.get("fingerprint") != saga.fingerprint:
        raise key_reused()
    return handle, dict(memo)


def key_reused() -> ProblemError:
    return ProblemError(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        "this Idempotency-Key was already used with a different request",
    )


async def outcome_within(handle: WorkflowHandle[W, R], wait_seconds: float, saga: str) -> R | None:
    """The saga's result, None if it still runs after ``wait_seconds``; a failed saga
    raises the domain error it names, or a problem (``saga`` names it: "booking", ...)."""
    try:
        return await asyncio.wait_for(handle.result(), timeout=wait_seconds)
    except TimeoutError:
        decision = await saga_decision(handle)
        if decision is not None:  # failed, still undoing (say Billing is down)
            raise refusal(decision.error_type, decision.detail, saga) from None
        return None
    except WorkflowFailureError as failure:
        cause = failure.cause
        if isinstance(cause, CancelledError):
            raise refusal("Cancelled", "the saga was cancelled", saga) from None
        if isinstance(cause, ApplicationError):
            raise refusal(cause.type, cause.message, saga) from None
        raise refusal(None, "the saga failed", saga) from None


async def saga_decision(handle: WorkflowHandle[Any, Any]) -> SagaDecision | None:
    """Every saga answers the ``decision`` query; None while it has not failed, or before
    its first workflow task ran."""
    try:
        answer = await handle.query("decision", result_type=SagaDecision)
        return answer if isinstance(answer, SagaDecision) else None
    except (RPCError, WorkflowQueryFailedError):
        return None


def refusal(error_type: str | None, detail: str | None, saga: str) -> Exception:
    """The domain error a failed saga names, or a problem for a cancelled or failed one."""
    if error_type in _REFUSALS:
        return _REFUSALS[error_type].from_detail(detail or "")
    if error_type == "Cancelled":
        return ProblemError(409, f"{saga}-cancelled", "Cancelled", f"the {saga} saga was cancelled")
    # The cause (a peer's answer, a database error) stays in our logs and in the
    # Temporal Web UI; callers learn only that a service we depend on did not answer.
    logger.warning("{} saga failed: {}", saga, detail)
    return ProblemError(
        503,
        f"{saga}-failed",
        f"The {saga} failed",
        "A service this change depends on did not answer in time; the change was not "
        "made. Retry later with a new Idempotency-Key.",
        headers={"Retry-After": "5"},
    )
