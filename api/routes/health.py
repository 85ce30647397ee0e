"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

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
        200: {"description": "Ready: every dependency answers"},
        503: {
            "description": "MongoDB or Temporal does not answer: a problem document (type "
            "`not-ready`) whose extension member `checks` gives each dependency's state, "
            'e.g. `{"mongodb": "ok", "temporal": "unavailable: TimeoutError"}`',
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
    if all(v == "ok" for v in results.values()):
        return Readiness(status="ok", checks=results)
    down = ", ".join(f"{name}: {result}" for name, result in results.items() if result != "ok")
    return problem_response(
        request,
        503,
        "not-ready",
        "Not ready",
        down,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        extensions={"checks": results},
    )
