"""What every activity knows about the run it serves: the change's event context and the
log line's fields."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from loguru import logger
from temporalio import activity

from domain.events import EventContext

if TYPE_CHECKING:
    from loguru import Logger


def in_this_run(caller: EventContext, reason: str | None = None) -> EventContext:
    """The caller's context completed for the event this activity writes: the reason, and
    the saga run that carries the change."""
    info = activity.info()
    return dataclasses.replace(
        caller, reason=reason, workflow_id=info.workflow_id, run_id=info.workflow_run_id
    )


def log_for(caller: EventContext) -> Logger:
    info = activity.info()
    return logger.bind(
        request_id=caller.request_id,
        workflow_id=info.workflow_id,
        activity=info.activity_type,
        attempt=info.attempt,
    )
