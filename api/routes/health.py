"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import ServicesDep
from api.problems import problem_response
from api.schemas import Readiness

router = APIRouter(prefix="/health", tags=["health"])

RETRY_AFTER_SECONDS = 5


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


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
async def ready(request: Request, services: ServicesDep) -> Any:
    readiness = services.readiness
    results = await readiness.checks()
    # Read, not probed: asking the peers here would make every probe three calls.
    breakers = readiness.breakers()
    if all(v == "ok" for v in results.values()):
        # A peer's outage degrades the API but never makes it unready: taking every
        # replica out of the load balancer would turn one peer's outage into ours.
        closed = all(state == "closed" for state in breakers.values())
        return Readiness(status="ok" if closed else "degraded", checks=results, breakers=breakers)
    down = ", ".join(f"{name}: {result}" for name, result in results.items() if result != "ok")
    return problem_response(
        request,
        503,
        "not-ready",
        "Not ready",
        down,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        extensions={"checks": results, "breakers": breakers},
    )
