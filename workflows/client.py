"""Connecting to Temporal the same way everywhere (API, worker, seeding, tests).

Transport security comes from the settings (``APPOINTMENTS_TEMPORAL_TLS*`` and
``APPOINTMENTS_TEMPORAL_API_KEY[_FILE]``): plaintext by default, as the local dev server
speaks; TLS with the system's CAs, a private CA, an mTLS client certificate, or an API key
(Temporal Cloud), which implies TLS.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from config import Settings
from config.transport import TransportSettingsError, read_setting_file, secret, variable
from workflows.codec import data_converter


def tls_config(settings: Settings) -> TLSConfig | bool:
    """``Client.connect``'s ``tls``: False (plaintext) unless a TLS setting or an API key
    is set; then a TLSConfig with the files' contents (None fields: the system's CAs, the
    address's host name, no client certificate)."""
    cert, key = settings.temporal_tls_cert_file, settings.temporal_tls_key_file
    if (cert is None) != (key is None):
        given, missing = (
            ("temporal_tls_cert_file", "temporal_tls_key_file")
            if key is None
            else ("temporal_tls_key_file", "temporal_tls_cert_file")
        )
        raise TransportSettingsError(
            f"{variable(given)} is set without {variable(missing)}: mTLS needs both"
        )
    wanted = (
        settings.temporal_tls
        or settings.temporal_tls_ca_file is not None
        or cert is not None
        or settings.temporal_tls_server_name is not None
        or settings.temporal_api_key is not None
        or settings.temporal_api_key_file is not None
    )
    if not wanted:
        return False

    def contents(field: str) -> bytes | None:
        return None if getattr(settings, field) is None else read_setting_file(settings, field)

    return TLSConfig(
        server_root_ca_cert=contents("temporal_tls_ca_file"),
        domain=settings.temporal_tls_server_name,
        client_cert=contents("temporal_tls_cert_file"),
        client_private_key=contents("temporal_tls_key_file"),
    )


def api_key(settings: Settings) -> str | None:
    """The API key (Temporal Cloud), from its value or its file; None if unset."""
    return secret(settings, "temporal_api_key")


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        # Payloads encrypted when payload_encryption is on (workflows/codec.py).
        data_converter=data_converter(settings),
        tls=tls_config(settings),
        api_key=api_key(settings),
    )
