"""Request ids, one log line per request, and the request body size limit."""

from __future__ import annotations

import re
import time
import uuid

from fastapi import FastAPI, HTTPException
from loguru import logger
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.fhir.outcome import on_fhir_door, outcome
from api.fhir.resources import MEDIA_TYPE as FHIR_JSON
from api.problems import MEDIA_TYPE, PAYLOAD_TOO_LARGE, PROBLEM_BASE, Problem

# A caller's X-Request-ID, kept only when harmless in a log line: matched in full (``$``
# would let a trailing newline through).
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
CLIENT_REQUEST_ID = "x-client-request-id"
# Patients' action links (api/actions): the path is /a/<token>.
ACTION_LINK_PREFIX = "/a/"


def client_request_id(offered: bytes | None) -> str | None:
    """The caller's ``X-Request-ID`` when it is 1-128 of ``A-Z a-z 0-9 _ . : -``."""
    text = (offered or b"").decode("latin-1")
    return text if _REQUEST_ID.fullmatch(text) else None


class _TooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so FastAPI's body parsing lets it through
    to the problem handlers instead of turning it into a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"at most {max_bytes} bytes")


class BodySizeLimit:
    """413 for a body over ``max_bytes``, whether announced by Content-Length (answered
    here, before anything reads the body) or streamed (raised from ``receive``, answered by
    the problem handlers). Inside ``RequestLog``, so both carry the request id."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        problem = Problem(
            type=PROBLEM_BASE + "payload-too-large",
            title=PAYLOAD_TOO_LARGE,
            status=413,
            detail=f"at most {self.max_bytes} bytes",
            instance=Request(scope).url.path,
            request_id=scope.get("state", {}).get("request_id"),
        )
        body, media_type = problem.model_dump_json(exclude_none=True).encode(), MEDIA_TYPE
        if on_fhir_door(problem.instance or ""):  # the FHIR door answers OperationOutcomes
            issue = outcome(413, "payload-too-large", problem.detail or PAYLOAD_TOO_LARGE)
            body, media_type = issue.model_dump_json(exclude_none=True).encode(), FHIR_JSON
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RequestLog:
    """One log line per request, and the request id: the server's own, made for every
    request, sent back as ``X-Request-ID`` and kept in the request state, so problems,
    activities and events carry it (an audit trail a caller cannot write into). A valid
    ``X-Request-ID`` of the caller's is logged beside it and echoed back as
    ``X-Client-Request-ID``. Pure ASGI (no BaseHTTPMiddleware), so exceptions raised while
    reading the body reach the handlers unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client_id = client_request_id(dict(scope["headers"]).get(b"x-request-id"))
        request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_request_id"] = client_id
        echoed = [(b"x-request-id", request_id.encode())]
        if client_id is not None:
            echoed.append((CLIENT_REQUEST_ID.encode(), client_id.encode()))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            who = state.get("principal")
            beside = {} if client_id is None else {"client_request_id": client_id}
            # Never the token, never the body: health data stays out of the logs.
            logger.bind(
                request_id=request_id,
                **beside,
                method=scope["method"],
                route=getattr(route, "path", loggable_path(scope["path"])),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                subject=who.subject if who else None,
                role=who.role.value if who else None,
            ).info("{} {} {}", scope["method"], loggable_path(scope["path"]), status)


def loggable_path(path: str) -> str:
    """``path`` for the log: an action link's token is a credential, never logged."""
    return ACTION_LINK_PREFIX + "<token>" if path.startswith(ACTION_LINK_PREFIX) else path


def install(app: FastAPI, max_body_bytes: int) -> None:
    # The last added is the outermost. BodySizeLimit refuses an oversized body before
    # anything reads it; RequestLog around it gives that 413 a request id and a log line.
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestLog)
