"""Fixtures of the deployment checks: the compose file as Compose resolves it and the
Kubernetes manifests as kustomize renders them, each produced once per session."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.tools import OVERLAYS, compose_config, kustomize


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return compose_config()


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """overlay -> its rendered manifests (base and production)."""
    return {overlay: kustomize(overlay) for overlay in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def manifests(request: pytest.FixtureRequest, rendered: dict[str, list[dict[str, Any]]]) -> Any:
    return rendered[request.param]
