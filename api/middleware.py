"""Request ids, one log line per request, and the request body size limit."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import MEDIA_TYPE, PROBLEM_BASE

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for a body over ``max_bytes``, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = (
            f'{{"type":"{PROBLEM_BASE}payload-too-large","title":"Request body too large",'
            f'"status":413,"detail":"at most {self.max_bytes} bytes"}}'
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, max_body_bytes: int) -> None:
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
            who = getattr(request.state, "principal", None)
            # Never the token, never the body: health data stays out of the logs.
            logger.bind(
                request_id=request_id,
                method=request.method,
                route=getattr(route, "path", request.url.path),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                subject=who.subject if who else None,
                role=who.role.value if who else None,
            ).info("{} {} {}", request.method, request.url.path, status)

    # Outermost, so an oversized body is refused before anything reads it.
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
