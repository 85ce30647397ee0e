"""The reschedule saga (``RescheduleWorkflow``)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from domain.events import EventContext
from workflows.contracts import saga

WORKFLOW = "RescheduleWorkflow"
SAGA = "reschedule"  # how workflow ids and answers name it


def workflow_id(actor: str, idempotency_key: str) -> str:
    """One run per caller and key: a retried request joins it, never starts a second."""
    return saga.workflow_id(SAGA, actor, idempotency_key)


def legacy_workflow_id(idempotency_key: str) -> str:
    """The key's run as it was named before keys were scoped to their caller."""
    return saga.legacy_workflow_id(SAGA, idempotency_key)


class RescheduleRequest(BaseModel):
    appointment_id: str
    start: AwareDatetime
    duration_minutes: int | None = None
    reason: str | None = None
    fingerprint: str
    caller: EventContext


class RescheduleOutcome(BaseModel):
    appointment_id: str
    status: str
    hold_id: str
    invoice_id: str


# What the run returns: its outcome, or the business refusal it ended with (its run
# Completed, ``saga.SagaRejected``).
RescheduleResult = RescheduleOutcome | saga.SagaRejected
