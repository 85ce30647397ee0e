"""The cancellation saga (``CancellationWorkflow``)."""

from __future__ import annotations

from pydantic import BaseModel

from domain.events import EventContext
from workflows.contracts import saga

WORKFLOW = "CancellationWorkflow"
SAGA = "cancellation"  # how workflow ids and answers name it


def workflow_id(actor: str, idempotency_key: str) -> str:
    """One run per caller and key: a retried request joins it, never starts a second."""
    return saga.workflow_id(SAGA, actor, idempotency_key)


def legacy_workflow_id(idempotency_key: str) -> str:
    """The key's run as it was named before keys were scoped to their caller."""
    return saga.legacy_workflow_id(SAGA, idempotency_key)


class CancellationRequest(BaseModel):
    appointment_id: str
    reason: str | None = None
    fingerprint: str
    caller: EventContext


class CancellationOutcome(BaseModel):
    appointment_id: str
    status: str
    fee_cents: int
    fee_invoice_id: str | None = None


# What the run returns: its outcome, or the business refusal it ended with (its run
# Completed, ``saga.SagaRejected``).
CancellationResult = CancellationOutcome | saga.SagaRejected
