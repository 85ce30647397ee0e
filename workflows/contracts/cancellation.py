"""The cancellation saga (``CancellationWorkflow``)."""

from __future__ import annotations

from pydantic import BaseModel

from domain.events import EventContext

WORKFLOW = "CancellationWorkflow"


def workflow_id(idempotency_key: str) -> str:
    return f"cancellation-{idempotency_key}"


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
