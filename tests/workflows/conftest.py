"""Workflow tests run on Temporal's time-skipping test server, with the activities replaced
by fakes of the same names (ARCHITECTURE §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflows.server import time_skipping_server


@pytest.fixture(scope="module")
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """One test server per module: its clock is shared, and one quirk of it spreads. An
    activity that completes after its run closed (a step cancelled while it ran, which
    only reports back later) keeps the clock from skipping for good: every later wait is
    waited in real time. Tests let such steps finish while the run is open
    (``fakes.settled``); a module that cannot still spoils only itself."""
    async with time_skipping_server() as env:
        yield env
