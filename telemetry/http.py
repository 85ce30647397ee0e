"""HTTP request counts and latencies of the API.

A pure ASGI middleware of its own rather than a change to ``api.middleware.RequestLog``:
the log line and the metrics want different things (the log the raw path and the request
id, the metrics only bounded labels), and neither should break the other.

Labels are bounded whatever a client sends: the route *template*
(``/api/v1/appointments/{appointment_id}``, never the id itself), ``unmatched`` for a
request no route saw (a path no route serves: a scanner must not mint a series per URL it
tries; or a body refused by size before routing), and ``OTHER`` for a method outside the
standard ones."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram

from telemetry.naming import LATENCY_BUCKETS, PREFIX

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class HttpInstruments:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            f"{PREFIX}_http_request_seconds",
            "Time from a request's arrival to the end of its answer",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.seconds.labels(method, route).observe(seconds)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request (Starlette records it in the
    scope while routing), or ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetricsMiddleware:
    """Outermost, so the answers of the layers inside it (413s, 500s) are counted too. An
    exception that escapes the app is counted as the 500 the server then sends."""

    def __init__(self, app: ASGIApp, instruments: HttpInstruments) -> None:
        self.app = app
        self.instruments = instruments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.instruments.observe(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )
