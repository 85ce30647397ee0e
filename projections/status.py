"""How far behind the read view is, from MongoDB alone: the API's ``/metrics`` reads it
at every scrape (``telemetry.projector``), whether or not a projector runs (which is the
point: the lag grows while none does).

**The lag** is the age of the oldest event recorded after the projector's last checkpoint
(or of the oldest event at all, without a checkpoint): the projector saves its checkpoint
at most every ``checkpoint_seconds`` (0.5 s) after the batches it folded, so an event
newer than that is one the view may not show yet. A projector that keeps up shows a lag
of that interval and a batch at most (under a second); a
stopped or stuck one shows the age of the first event it missed, growing by the second.
Both times are wall clocks of different processes; a skew between them shifts the lag by
that much, which is noise next to the minutes an alert waits for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from domain.clock import now_utc, utc
from persistence.documents import AppointmentEvent
from projections.read_view import CHECKPOINTS, READ_VIEW


class ProjectorStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    checkpointed_at: datetime | None = Field(
        description="when the projector last saved its checkpoint; None if it never did"
    )
    lag_seconds: float = Field(
        description="age of the oldest event after the checkpoint; 0 when there is none"
    )


async def projector_status(
    database: AsyncDatabase[dict[str, Any]],
    *,
    now: datetime | None = None,
    projector: str = READ_VIEW,
) -> ProjectorStatus:
    saved = await database[CHECKPOINTS].find_one({"_id": projector}, {"updated_at": 1})
    at = saved.get("updated_at") if saved is not None else None
    checkpointed_at = utc(at) if isinstance(at, datetime) else None
    newer = {} if checkpointed_at is None else {"occurred_at": {"$gt": checkpointed_at}}
    # The ``occurred_at`` index serves both the range and the order.
    first = await database[AppointmentEvent.Settings.name].find_one(
        newer, {"occurred_at": 1}, sort=[("occurred_at", ASCENDING)]
    )
    lag = 0.0
    if first is not None and isinstance(first.get("occurred_at"), datetime):
        lag = max(0.0, ((now or now_utc()) - utc(first["occurred_at"])).total_seconds())
    return ProjectorStatus(checkpointed_at=checkpointed_at, lag_seconds=lag)
