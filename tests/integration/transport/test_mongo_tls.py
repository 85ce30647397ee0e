"""MongoDB over TLS for real: SecantusDB requires TLS and a client certificate of the
test CA, and persistence/database.py's clients (open_client, connect) reach it with the
settings alone, or are refused for the reason the settings give."""

from __future__ import annotations

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from config import load_settings
from persistence.database import connect, open_client
from tests.unit.transport.pki import Pki


async def test_mtls_with_a_private_ca_writes_and_reads(mongo_mtls: str, pki: Pki) -> None:
    settings = load_settings(
        mongo_uri=mongo_mtls,
        mongo_database="transport_tls",
        mongo_tls_ca_file=pki.ca,
        mongo_tls_certificate_key_file=pki.client_combined,
    )
    client = open_client(settings)
    try:
        collection = client[settings.mongo_database]["probe"]
        await collection.insert_one({"_id": "over-tls"})
        assert await collection.find_one({"_id": "over-tls"}) == {"_id": "over-tls"}
    finally:
        await client.close()


async def test_connect_initialises_beanie_over_mtls(mongo_mtls: str, pki: Pki) -> None:
    """What the api, the worker, the relay and the projector do at start."""
    settings = load_settings(
        mongo_uri=mongo_mtls,
        mongo_database="transport_tls_beanie",
        mongo_tls_ca_file=pki.ca,
        mongo_tls_certificate_key_file=pki.client_combined,
    )
    client = await connect(settings)
    try:
        assert (await client.admin.command("ping"))["ok"] == 1
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        # TLS against the right CA but no client certificate: the server refuses.
        # (TLS 1.3: the client may see the refusal as an alert or as the closed socket.)
        (
            {"mongo_tls_certificate_key_file": None},
            "CERTIFICATE_REQUIRED|connection is already closed",
        ),
        # The system's CAs do not know the server's certificate.
        ({"mongo_tls_ca_file": None, "mongo_tls": True}, "CERTIFICATE_VERIFY_FAILED"),
    ],
    ids=["no-client-certificate", "unknown-server-ca"],
)
async def test_without_the_right_settings_nothing_connects(
    fresh_mongo_mtls: str, pki: Pki, settings: dict[str, object], reason: str
) -> None:
    complete: dict[str, object] = {
        "mongo_tls_ca_file": pki.ca,
        "mongo_tls_certificate_key_file": pki.client_combined,
    }
    client = open_client(load_settings(mongo_uri=fresh_mongo_mtls, **(complete | settings)))
    try:
        with pytest.raises(ServerSelectionTimeoutError, match=reason):
            await client.admin.command("ping")
    finally:
        await client.close()


async def test_a_server_certificate_of_another_ca_is_refused(
    fresh_mongo_mtls: str, pki: Pki, stranger: Pki
) -> None:
    """The CA file is what the client trusts, not merely where TLS gets turned on."""
    client = open_client(
        load_settings(
            mongo_uri=fresh_mongo_mtls,
            mongo_tls_ca_file=stranger.ca,
            mongo_tls_certificate_key_file=pki.client_combined,
        )
    )
    try:
        with pytest.raises(ServerSelectionTimeoutError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.admin.command("ping")
    finally:
        await client.close()
