"""The readiness probe's checks: MongoDB and Temporal must answer; the peers' circuit
breakers are reported, never probed (asking three services at every probe would make the
probe an outage of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pymongo import AsyncMongoClient
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from peers.breaker import CircuitBreaker

CHECK_TIMEOUT_SECONDS = 2.0


class ServiceReadiness:
    """``application.ports.Readiness`` of one API process."""

    def __init__(
        self,
        mongo: AsyncMongoClient[Any],
        temporal: Client,
        breakers: Callable[[], Iterable[CircuitBreaker]],
    ) -> None:
        self._mongo, self._temporal, self._breakers = mongo, temporal, breakers

    async def checks(self) -> dict[str, str]:
        checks: dict[str, Callable[[], Awaitable[Any]]] = {
            "mongodb": lambda: self._mongo.admin.command("ping"),
            "temporal": lambda: self._temporal.workflow_service.get_system_info(
                GetSystemInfoRequest()
            ),
        }
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
                results[name] = "ok"
            except Exception as error:
                results[name] = f"unavailable: {type(error).__name__}"
        return results

    def breakers(self) -> dict[str, str]:
        return {breaker.name: breaker.state.value for breaker in self._breakers()}
