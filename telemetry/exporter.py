"""The worker's metrics endpoint: prometheus_client's own HTTP exporter on
``worker_metrics_port`` (the worker has no web server of its own), and a task on the
event loop that refreshes the breaker and outbox snapshots every few seconds.

The exporter answers from its own thread, so it only reads snapshots and thread-safe
prometheus_client instruments; it never touches the breakers or the MongoDB client, which
belong to the loop. The snapshots are at most ``REFRESH_SECONDS`` old, well inside a
scrape interval. The outbox query (three indexed reads) every ``REFRESH_SECONDS`` per
worker is cheap.

A port already taken is logged as an error and the worker runs on without metrics: a
worker that stopped running sagas for want of a metrics port would be the worse outage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from loguru import logger
from prometheus_client import start_http_server

from telemetry.metrics import Metrics

REFRESH_SECONDS = 5.0


@contextlib.asynccontextmanager
async def exported(
    metrics: Metrics, *, host: str, port: int, refresh_seconds: float = REFRESH_SECONDS
) -> AsyncIterator[bool]:
    """Serve ``metrics`` on ``host:port`` while the block runs; port 0 serves nothing.
    Yields whether the endpoint is up."""
    if port == 0:
        yield False
        return
    await metrics.refresh()  # the first scrape already sees real numbers
    try:
        server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as error:
        logger.error("worker metrics not served on {}:{}: {}", host, port, error)
        yield False
        return
    logger.info("worker metrics on http://{}:{}/metrics", host, port)
    refresher = asyncio.create_task(_keep_fresh(metrics, refresh_seconds))
    try:
        yield True
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        # shutdown() waits for the serving thread's poll loop (up to 0.5 s): off the loop.
        await asyncio.to_thread(server.shutdown)
        server.server_close()


async def _keep_fresh(metrics: Metrics, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await metrics.refresh()
