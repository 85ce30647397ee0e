"""What the app does once its use cases are connected."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from api.app import create_app
from api.security.tokens import issue_local_token
from application.permissions import Role
from application.services import Services
from config import Settings
from telemetry.metrics import ApiMetrics


async def test_what_startup_made_is_kept_out_of_the_collectors_sight(settings: Settings) -> None:
    """gc.freeze once connected: a full collection no longer walks the app's long-lived
    objects on every busy read (issue #18)."""
    connected: list[Settings] = []

    @asynccontextmanager
    async def connect(settings: Settings, metrics: ApiMetrics) -> AsyncIterator[Services]:
        connected.append(settings)
        yield cast(Services, object())

    issue_local_token(settings, Role.STAFF, "warm-up")  # makes the local secret
    app = create_app(settings, connect=connect)
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        lifespan: Any = app.router.lifespan_context
        async with lifespan(app):
            assert connected
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
