"""Who asks and the services are resolved on the event loop: neither does I/O, and as
plain functions FastAPI ran each in its thread pool, two thread hops per request
(~0.2 ms of the 0.9 ms an empty schedule read cost in-process)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.dependencies import utils

from tests.fakes import World

WEEK = {"from": "2030-01-07T00:00:00Z", "to": "2030-01-14T00:00:00Z"}


async def test_a_schedule_read_hops_to_no_thread(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    run_in_threadpool = getattr(utils, "run_in_threadpool")  # noqa: B009 - not exported

    async def counted(call: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(call, "__name__", repr(call)))
        return await run_in_threadpool(call, *args, **kwargs)

    monkeypatch.setattr(utils, "run_in_threadpool", counted)
    answer = await client.get("/api/v1/doctors/doc-on-call/schedule", params=WEEK)

    assert answer.status_code == 200, answer.text
    assert world.view.calls  # it did read the view
    assert hops == []
