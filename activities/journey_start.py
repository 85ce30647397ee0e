"""The booking saga's step that starts the appointment's journey (workflows/journey_news.py).

A step rather than a child workflow (issue #18): the saga then ends in the workflow task
that answers the booking, with neither the child's two events nor a second task of its own,
which was a third of the Temporal server's work per booking.

Idempotent by the journey's workflow id: one per appointment, never reused, so a retried
step, or a backfill that came first, finds the journey started and starts no second one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client

from workflows.contracts.journey import JourneyRequest
from workflows.journey_starts import start_journey_run


class JourneyStarts:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @activity.defn(name="start_journey")
    async def start_journey(self, request: JourneyRequest) -> bool:
        """Start the journey; False when it runs (or ran) already. Eager: the server may
        hand its first task straight to this worker."""
        return await start_journey_run(self._client, self._task_queue, request, eager=True)

    def all(self) -> list[Callable[..., Any]]:
        return [self.start_journey]
