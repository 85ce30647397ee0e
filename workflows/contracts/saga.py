"""What every saga answers, whichever it is."""

from __future__ import annotations

from pydantic import BaseModel

# The query every saga answers with its decision (``SagaDecision``, or None).
DECISION_QUERY = "decision"
# The error type of a saga run that was cancelled, as its decision names it.
CANCELLED = "Cancelled"


class SagaDecision(BaseModel):
    """A failed saga's outcome, known before its compensations finish (a peer that is down
    may keep one retrying): the API answers it at once instead of 202."""

    error_type: str
    detail: str
    refused: bool = False  # a business refusal, not a fault
