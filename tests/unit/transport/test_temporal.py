"""workflows/client.py: Temporal's TLSConfig and API key from the settings, for each
mode (plaintext, TLS, private CA, mTLS, API key), and connect_temporal passing them on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from config import load_settings
from config.transport import TransportSettingsError
from tests.unit.transport.pki import Pki
from workflows import client as temporal_client
from workflows.client import api_key, connect_temporal, tls_config


def test_plaintext_by_default() -> None:
    assert tls_config(load_settings()) is False


def test_tls_with_the_systems_cas() -> None:
    assert tls_config(load_settings(temporal_tls=True)) == TLSConfig()


def test_a_private_ca_and_a_server_name(pki: Pki) -> None:
    settings = load_settings(
        temporal_tls_ca_file=pki.ca, temporal_tls_server_name="frontend.temporal.internal"
    )
    assert tls_config(settings) == TLSConfig(
        server_root_ca_cert=pki.ca.read_bytes(), domain="frontend.temporal.internal"
    )


def test_mtls_sends_the_client_certificate_and_key(pki: Pki) -> None:
    """Temporal Cloud's mTLS: the namespace's client certificate, the system's CAs."""
    settings = load_settings(
        temporal_tls_cert_file=pki.client_cert, temporal_tls_key_file=pki.client_key
    )
    assert tls_config(settings) == TLSConfig(
        client_cert=pki.client_cert.read_bytes(),
        client_private_key=pki.client_key.read_bytes(),
    )
    assert api_key(settings) is None


@pytest.mark.parametrize("given", ["temporal_tls_cert_file", "temporal_tls_key_file"])
def test_half_an_mtls_pair_is_refused(pki: Pki, given: str) -> None:
    with pytest.raises(TransportSettingsError, match="mTLS needs both"):
        tls_config(load_settings(**{given: pki.client_cert}))


def test_an_api_key_implies_tls(tmp_path: Path) -> None:
    settings = load_settings(temporal_api_key="tc-key")
    assert tls_config(settings) == TLSConfig()
    assert api_key(settings) == "tc-key"
    mounted = tmp_path / "api-key"
    mounted.write_text("tc-key-from-file\n")
    from_file = load_settings(temporal_api_key_file=mounted)
    assert tls_config(from_file) == TLSConfig()
    assert api_key(from_file) == "tc-key-from-file"


def test_a_missing_ca_file_stops_the_start(missing: Path) -> None:
    with pytest.raises(TransportSettingsError) as error:
        tls_config(load_settings(temporal_tls_ca_file=missing))
    assert str(error.value) == f"APPOINTMENTS_TEMPORAL_TLS_CA_FILE={missing}: no such file"


class Captured(Exception):
    """Stands in for the network: connect_temporal's arguments, then stop."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs


async def fake_connect(_cls: Any, target_host: str, **kwargs: Any) -> Client:
    raise Captured({"target_host": target_host, **kwargs})


async def test_connect_temporal_passes_tls_and_the_api_key(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(temporal_client.Client, "connect", classmethod(fake_connect))
    settings = load_settings(
        temporal_address="ns.acct.tmprl.cloud:7233",
        temporal_namespace="ns.acct",
        temporal_tls_ca_file=pki.ca,
        temporal_api_key="tc-key",
    )
    with pytest.raises(Captured) as captured:
        await connect_temporal(settings)
    kwargs = captured.value.kwargs
    assert kwargs["target_host"] == "ns.acct.tmprl.cloud:7233"
    assert kwargs["namespace"] == "ns.acct"
    assert kwargs["tls"] == TLSConfig(server_root_ca_cert=pki.ca.read_bytes())
    assert kwargs["api_key"] == "tc-key"
    assert kwargs["data_converter"] is pydantic_data_converter


async def test_connect_temporal_is_plaintext_without_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(temporal_client.Client, "connect", classmethod(fake_connect))
    with pytest.raises(Captured) as captured:
        await connect_temporal(load_settings())
    assert captured.value.kwargs["tls"] is False
    assert captured.value.kwargs["api_key"] is None


async def test_connect_temporal_fails_on_a_missing_file_before_any_connection(
    pki: Pki, missing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(temporal_client.Client, "connect", classmethod(fake_connect))
    settings = load_settings(temporal_tls_cert_file=pki.client_cert, temporal_tls_key_file=missing)
    with pytest.raises(TransportSettingsError) as error:  # not Captured: no connection
        await connect_temporal(settings)
    assert str(error.value) == f"APPOINTMENTS_TEMPORAL_TLS_KEY_FILE={missing}: no such file"
