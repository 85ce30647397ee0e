"""Temporal over TLS for real: Temporal's dev server (which speaks no TLS) behind a TLS
front that requires a client certificate of the test CA and speaks HTTP/2, as Temporal
Cloud's mTLS endpoint does. workflows/client.py's connect_temporal gets through with the
settings alone, and not without them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from config import load_settings
from localstack import servers
from localstack.ports import free_port
from tests.integration.transport.tls_proxy import tls_front
from tests.unit.transport.pki import Pki
from workflows.client import connect_temporal


@pytest.fixture(scope="module")
def temporal_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data: Path = tmp_path_factory.mktemp("temporal-tls")
    port = free_port()
    with servers.temporal(port, free_port(), data / "temporal.db", data / "logs", ()):
        yield port


async def test_mtls_and_an_api_key_reach_the_server(
    temporal_port: int, pki: Pki, tmp_path: Path
) -> None:
    api_key_file = tmp_path / "api-key"
    api_key_file.write_text("tc-key\n")
    async with tls_front(temporal_port, pki, alpn=["h2"]) as front:
        settings = load_settings(
            temporal_address=front.address,
            temporal_tls_ca_file=pki.ca,
            temporal_tls_cert_file=pki.client_cert,
            temporal_tls_key_file=pki.client_key,
            temporal_tls_server_name="localhost",
            temporal_api_key_file=api_key_file,
        )
        client = await connect_temporal(settings)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
        assert front.handshakes >= 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"temporal_tls_cert_file": None, "temporal_tls_key_file": None},  # no client cert
        {"temporal_tls_ca_file": None},  # the system's CAs do not know the front's cert
        {"temporal_tls_server_name": "frontend.example.com"},  # not the certificate's name
    ],
    ids=["no-client-certificate", "unknown-server-ca", "wrong-server-name"],
)
async def test_without_the_right_settings_nothing_connects(
    temporal_port: int, pki: Pki, overrides: dict[str, object]
) -> None:
    async with tls_front(temporal_port, pki, alpn=["h2"]) as front:
        settings = load_settings(
            **{
                "temporal_address": front.address,
                "temporal_tls_ca_file": pki.ca,
                "temporal_tls_cert_file": pki.client_cert,
                "temporal_tls_key_file": pki.client_key,
                "temporal_tls_server_name": "localhost",
            }
            | overrides
        )
        with pytest.raises(RuntimeError, match="Failed client connect"):
            await connect_temporal(settings)
        assert front.handshakes == 0
