"""What every integration test folder shares: ONE MongoDB wire-protocol server
(SecantusDB) per session, on a free port in a temporary directory. Each test takes a
database of its own on it, so the folders never see each other's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localstack import servers
from localstack.ports import free_port


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("mongo")
    port = free_port()
    # The ``with`` block stops the server (and its process group) even if a test fails.
    with servers.mongo(port, data / "storage", data / "logs"):
        yield servers.mongo_uri(port)
