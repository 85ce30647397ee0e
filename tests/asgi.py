"""An app served in-process to an httpx client: no server, no port. The app's own errors
are answered as a server would answer them (a 500), not raised into the test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx


@contextlib.asynccontextmanager
async def client_of(
    app: Any, base_url: str = "http://test", **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` (an ASGI application); ``options`` as httpx.AsyncClient's."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=base_url, **options) as client:
        yield client
