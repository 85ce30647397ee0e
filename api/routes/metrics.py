"""``GET /metrics``: the API process's Prometheus metrics (``telemetry``).

No token, like the probes: Prometheus scrapes it from inside the cluster, and the
NetworkPolicy (issue #7) lets only the monitoring namespace reach it. It carries counts,
latencies and states, never an id, a name or a path with an id in it. Left out of the
OpenAPI document: it is an operations endpoint, not part of the service's contract."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from telemetry.metrics import ApiMetrics

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Snapshots first (the outbox query, bounded by its timeout; the breakers, on this
    loop that owns them), then the exposition in the format the scraper asks for."""
    telemetry: ApiMetrics = request.app.state.metrics
    await telemetry.refresh()
    body, content_type = telemetry.render(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
