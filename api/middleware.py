"""Request ids and one log line per request."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from loguru import logger

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def request_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        offered = request.headers.get("X-Request-ID", "")
        # A caller's id is kept only if it is harmless in a log line; else we make one.
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            route = request.scope.get("route")
            logger.bind(
                request_id=request_id,
                method=request.method,
                route=getattr(route, "path", request.url.path),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            ).info("{} {} {}", request.method, request.url.path, status)
