"""How far behind the relay is: ``appointment-service relay status`` and the tests read
this. Every number comes from the outbox itself, so it is right whether or not a relay is
running (which is the point: the backlog grows while none is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from domain.clock import now_utc, utc
from messaging.outbox import OUTBOX_COLLECTION, PARKED, QUEUE_ORDER, UNPUBLISHED, OutboxRow


class RelayStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    backlog: int = Field(description="events waiting to be published (not parked)")
    parked: int = Field(description="events taken out of the queue; each has its last_error")
    oldest_unpublished_age_seconds: float | None = Field(
        description="how long the oldest waiting event has waited; None if none waits"
    )
    last_published_at: datetime | None = Field(
        description="when the relay last marked an event published; None if never"
    )


async def relay_status(
    database: AsyncDatabase[dict[str, Any]], *, now: datetime | None = None
) -> RelayStatus:
    rows = database[OUTBOX_COLLECTION]
    # Several reads, not one snapshot: the backlog is counted first and the oldest row
    # looked up only if there is one, so a drained outbox never shows an age.
    backlog = await rows.count_documents(UNPUBLISHED)
    oldest = await rows.find_one(UNPUBLISHED, sort=QUEUE_ORDER) if backlog else None
    latest = await rows.find_one(
        {"published_at": {"$ne": None}}, sort=[("published_at", DESCENDING)]
    )
    age = None
    if oldest is not None:
        waiting_since = OutboxRow.from_document(oldest).created_at
        age = max(0.0, ((now or now_utc()) - waiting_since).total_seconds())
    return RelayStatus(
        backlog=backlog,
        parked=await rows.count_documents(PARKED),
        oldest_unpublished_age_seconds=age,
        last_published_at=utc(latest["published_at"]) if latest is not None else None,
    )


def describe(status: RelayStatus) -> str:
    """The status for a terminal, one fact per line."""
    age = status.oldest_unpublished_age_seconds
    last = status.last_published_at
    return "\n".join(
        [
            f"backlog                 {status.backlog}",
            f"parked                  {status.parked}",
            f"oldest unpublished age  {'-' if age is None else f'{age:.1f} s'}",
            f"last published at       {'-' if last is None else last.isoformat()}",
        ]
    )
