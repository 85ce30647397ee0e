"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="MongoDB and Temporal answer")
async def ready(request: Request) -> JSONResponse:
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
    healthy = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status_code=200 if healthy else 503,
    )
