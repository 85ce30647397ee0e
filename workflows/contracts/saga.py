"""What every saga answers, whichever it is."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from domain.events import EventContext

# The query every saga answers with its decision (``SagaDecision``, or None).
DECISION_QUERY = "decision"
# The error type of a saga run that was cancelled, as its decision names it.
CANCELLED = "Cancelled"


class StartedBy(BaseModel):
    """What every saga's request (its run's input) carries besides its own fields: who
    asked. Read from a run's input to tell whose run it is."""

    caller: EventContext


class SagaDecision(BaseModel):
    """A failed saga's outcome, known before its compensations finish (a peer that is down
    may keep one retrying): the API answers it at once instead of 202."""

    error_type: str
    detail: str
    refused: bool = False  # a business refusal, not a fault


class SagaOutcome(StrEnum):
    """The ``SagaOutcome`` search attribute, set when a saga run (any of them) ends: how an
    operator tells a business refusal from a success, both Completed runs, in the Web UI.
    Runs that ended before it existed have none."""

    COMPLETED = "COMPLETED"  # the change was made
    # A business refusal (slot taken, illegal transition, ...), its compensations done:
    # the run is Completed and its result is a ``SagaRejected``.
    REJECTED = "REJECTED"
    # Something broke: a fault the retries did not overcome (compensated), or a refusal
    # whose undoing an operator must finish (NeedsAttention). The run is Failed.
    FAILED = "FAILED"


class SagaRejected(BaseModel):
    """What a saga run refused for a business reason returns (its run Completed, not
    Failed): the domain error it names, by class name as ``type``, with its problem's
    code, title and detail. The API answers it as it answers the domain error (409, 422,
    402); runs recorded before this failed instead, with an ApplicationError of that type."""

    outcome: Literal["rejected"] = "rejected"
    type: str
    code: str
    title: str
    detail: str


def workflow_id(saga: str, actor: str, idempotency_key: str) -> str:
    """The run of ``saga`` ("booking", "cancellation", "reschedule") that the caller
    ``actor`` asks for with ``idempotency_key``: one run per caller and key. A retry joins
    it; another caller's key, however alike, names another run. Hashed, so the id shows
    neither the caller nor the key, and every idempotency key derived from it (the peers',
    the events') is the caller's own too."""
    scoped = json.dumps([actor, idempotency_key]).encode()
    return f"{saga}-{hashlib.sha256(scoped).hexdigest()[:32]}"


def legacy_workflow_id(saga: str, idempotency_key: str) -> str:
    """The run's id before keys were scoped to their caller: the key as sent. A run
    started under it is still joined by its own caller (``application.saga_runs``)."""
    return f"{saga}-{idempotency_key}"
