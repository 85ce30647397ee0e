"""The no-show reversal saga (``NoShowReversalWorkflow``): staff say the patient did come."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from domain.events import EventContext
from workflows.contracts import saga

WORKFLOW = "NoShowReversalWorkflow"
SAGA = "no-show-reversal"  # how workflow ids and answers name it

# What a reversed no-show becomes, as staff say.
Target = Literal["CHECKED_IN", "COMPLETED"]


def workflow_id(actor: str, idempotency_key: str) -> str:
    """One run per caller and key: a retried request joins it, never starts a second."""
    return saga.workflow_id(SAGA, actor, idempotency_key)


class NoShowReversalRequest(BaseModel):
    appointment_id: str
    target: Target
    reason: str | None = None
    fingerprint: str
    caller: EventContext


class NoShowReversalOutcome(BaseModel):
    appointment_id: str
    status: str
    # The no-show fee's invoice, voided at Billing (None: there was no fee, or Billing
    # refused the void for good and the run was left to an operator).
    voided_invoice_id: str | None = None


# What the run returns: its outcome, or the business refusal it ended with (its run
# Completed, ``saga.SagaRejected``).
NoShowReversalResult = NoShowReversalOutcome | saga.SagaRejected
