"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.problems import problem_response
from api.schemas import Readiness
from peers import Peers
from peers.breaker import BreakerState

router = APIRouter(prefix="/health", tags=["health"])

RETRY_AFTER_SECONDS = 5


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


def breaker_states(request: Request) -> dict[str, BreakerState]:
    """This process's circuit breaker of each peer. Read, not probed: asking the peers
    here would make every probe a call to three services."""
    peers: Peers | None = getattr(request.app.state, "peers", None)
    return {breaker.name: breaker.state for breaker in peers.breakers} if peers else {}


@router.get(
    "/ready",
    summary="MongoDB and Temporal answer",
    response_model=Readiness,
    responses={
        200: {
            "description": "Ready: MongoDB and Temporal answer. `status` is `degraded` while "
            "a peer service's circuit breaker is open or half-open (`breakers`): the API "
            "still serves, and what needs that peer fails fast with 503"
        },
        503: {
            "description": "MongoDB or Temporal does not answer: a problem document (type "
            "`not-ready`) whose extension member `checks` gives each dependency's state, "
            'e.g. `{"mongodb": "ok", "temporal": "unavailable: TimeoutError"}`, and '
            "`breakers` each peer's circuit breaker",
        },
    },
)
async def ready(request: Request) -> Any:
    state = request.app.state

    async def mongo() -> Any:
        return await state.mongo.admin.command("ping")

    async def temporal() -> Any:
        return await state.temporal.workflow_service.get_system_info(GetSystemInfoRequest())

    checks = {"mongodb": mongo, "temporal": temporal}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), timeout=2)
            results[name] = "ok"
        except Exception as error:
            results[name] = f"unavailable: {type(error).__name__}"
    breakers = breaker_states(request)
    if all(v == "ok" for v in results.values()):
        # A peer's outage degrades the API but never makes it unready: taking every
        # replica out of the load balancer would turn one peer's outage into ours.
        closed = all(s is BreakerState.CLOSED for s in breakers.values())
        return Readiness(status="ok" if closed else "degraded", checks=results, breakers=breakers)
    down = ", ".join(f"{name}: {result}" for name, result in results.items() if result != "ok")
    return problem_response(
        request,
        503,
        "not-ready",
        "Not ready",
        down,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        extensions={"checks": results, "breakers": {k: v.value for k, v in breakers.items()}},
    )
