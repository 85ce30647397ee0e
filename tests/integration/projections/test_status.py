"""The read view's lag as the API's /metrics reads it, from the real MongoDB wire
protocol: the age of the oldest event after the projector's last checkpoint."""

from __future__ import annotations

from datetime import timedelta

from projections.status import projector_status
from tests.integration.projections.conftest import Bed
from tests.integration.projections.test_cli import NINE


async def oldest_event_time(bed: Bed, after: object = None) -> object:
    query = {} if after is None else {"occurred_at": {"$gt": after}}
    first = await bed.database["appointment_events"].find_one(query, sort=[("occurred_at", 1)])
    assert first is not None
    return first["occurred_at"]


async def test_lag_is_the_age_of_the_first_event_the_projector_has_not_checkpointed(
    bed: Bed,
) -> None:
    empty = await projector_status(bed.database)
    assert (empty.checkpointed_at, empty.lag_seconds) == (None, 0.0)

    await bed.book(NINE)  # no projector ever ran: everything is behind
    first = await oldest_event_time(bed)
    later = await projector_status(bed.database, now=first + timedelta(seconds=90))
    assert (later.checkpointed_at, later.lag_seconds) == (None, 90.0)

    bed.start_projector()
    await bed.caught_up()
    await bed.stop_projectors()  # its checkpoint comes after every event so far
    caught_up = await projector_status(bed.database)
    assert caught_up.checkpointed_at is not None
    assert caught_up.lag_seconds == 0.0

    await bed.book(NINE + timedelta(hours=1))  # while no projector runs
    missed = await oldest_event_time(bed, after=caught_up.checkpointed_at)
    behind = await projector_status(bed.database, now=missed + timedelta(seconds=300))
    assert behind.lag_seconds == 300.0
    assert behind.checkpointed_at == caught_up.checkpointed_at
