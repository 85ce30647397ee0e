"""``appointment-service relay republish``: parked outbox events back into the queue, once
their cause is fixed (a broker limit raised, a row repaired by hand).

A parked row is never retried by the relay (``messaging.relay``); republishing resets its
attempts and takes the park off, and the running relay publishes it on its next round
(at least once, like any row; consumers dedupe by ``event_id``). Its appointment's later
events went out while it was parked, so consumers see this one after them: they order by
``data.version``, which is why the gap was tolerable in the first place.

All or nothing: named events that are unknown, already published or not parked are
refused, and then nothing changes, so a typo never half-applies a list. ``--dry-run``
lists what would be republished and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pymongo.asynchronous.database import AsyncDatabase

from messaging.outbox import OutboxQueue, OutboxRow


class ParkedEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    appointment_id: str
    created_at: datetime
    attempts: int
    last_error: str | None


class RepublishRefused(Exception):
    """Some named events cannot be republished; nothing was changed."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


class Republished(BaseModel):
    model_config = ConfigDict(frozen=True)

    events: list[ParkedEvent]  # what was (or, on a dry run, would be) republished
    dry_run: bool
    requeued: int  # rows actually put back (0 on a dry run)


def _parked_event(doc: dict[str, Any]) -> ParkedEvent:
    row = OutboxRow.from_document(doc)
    error = doc.get("last_error")
    return ParkedEvent(
        event_id=row.id,
        appointment_id=row.key,
        created_at=row.created_at,
        attempts=row.attempts,
        last_error=error if isinstance(error, str) else None,
    )


def _refusal(event_id: str, doc: dict[str, Any] | None) -> str | None:
    if doc is None:
        return f"{event_id}: no such outbox event"
    if doc.get("published_at") is not None:
        return f"{event_id}: already published at {doc['published_at'].isoformat()}"
    if doc.get("parked") is not True:
        return f"{event_id}: not parked, it is waiting in the queue already"
    return None


async def republish(
    database: AsyncDatabase[dict[str, Any]],
    event_ids: Sequence[str] | None,
    *,
    dry_run: bool = False,
) -> Republished:
    """Republish the parked events ``event_ids`` (every parked event if None).

    Raises ``RepublishRefused`` (changing nothing) if a named event is unknown, published
    or not parked."""
    queue = OutboxQueue(database)
    found = await queue.find(None if event_ids is None else sorted(set(event_ids)))
    if event_ids is not None:
        by_id = {str(doc["_id"]): doc for doc in found}
        refusals = [
            reason
            for event_id in dict.fromkeys(event_ids)
            if (reason := _refusal(event_id, by_id.get(event_id))) is not None
        ]
        if refusals:
            raise RepublishRefused(refusals)
    events = [_parked_event(doc) for doc in found]
    requeued = 0 if dry_run else await queue.requeue([event.event_id for event in events])
    return Republished(events=events, dry_run=dry_run, requeued=requeued)


def describe(result: Republished) -> str:
    """For a terminal: one line per event, then what was done."""
    lines = [
        f"{e.event_id}  appointment {e.appointment_id}  {e.attempts} attempts  "
        f"{e.last_error or '-'}"
        for e in result.events
    ]
    if result.dry_run:
        lines.append(f"dry run: {len(result.events)} parked events would be republished")
    else:
        lines.append(f"republished {result.requeued} parked events")
    return "\n".join(lines)
