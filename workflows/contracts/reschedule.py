"""The reschedule saga (``RescheduleWorkflow``)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from domain.events import EventContext

WORKFLOW = "RescheduleWorkflow"


def workflow_id(idempotency_key: str) -> str:
    return f"reschedule-{idempotency_key}"


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
