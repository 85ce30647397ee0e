"""persistence/database.py: PyMongo's TLS and credential options from the settings, for
each mode, and the clients every process opens with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from config.transport import TransportSettingsError
from messaging import relay
from persistence import database
from persistence.database import client_options, open_client
from simulators import notifications
from tests.unit.transport.pki import Pki


def test_the_uri_alone_by_default() -> None:
    assert client_options(load_settings()) == {}
    client = open_client(load_settings())
    assert client.options.pool_options._ssl_context is None


def test_tls_forced_on() -> None:
    """For a URI without tls=true (mongodb+srv:// and Atlas's URIs turn it on themselves)."""
    assert client_options(load_settings(mongo_tls=True)) == {"tls": True}


def test_a_private_ca_implies_tls(pki: Pki) -> None:
    assert client_options(load_settings(mongo_tls_ca_file=pki.ca)) == {
        "tls": True,
        "tlsCAFile": str(pki.ca),
    }


def test_a_client_certificate(pki: Pki) -> None:
    """X.509 authentication or mTLS: PyMongo takes the certificate and key in one PEM."""
    settings = load_settings(
        mongo_tls_ca_file=pki.ca, mongo_tls_certificate_key_file=pki.client_combined
    )
    assert client_options(settings) == {
        "tls": True,
        "tlsCAFile": str(pki.ca),
        "tlsCertificateKeyFile": str(pki.client_combined),
    }
    # PyMongo accepts them: its SSL context is built from the files.
    assert open_client(settings).options.pool_options._ssl_context is not None


def test_credentials_from_a_mounted_password_file(tmp_path: Path) -> None:
    mounted = tmp_path / "mongo-password"
    mounted.write_text("from-the-secret\n")
    settings = load_settings(mongo_username="appointments", mongo_password_file=mounted)
    assert client_options(settings) == {"username": "appointments", "password": "from-the-secret"}
    credentials = open_client(settings).options.pool_options._credentials
    assert (credentials.username, credentials.password) == ("appointments", "from-the-secret")


def test_a_password_without_a_user_is_refused() -> None:
    with pytest.raises(TransportSettingsError, match="without APPOINTMENTS_MONGO_USERNAME"):
        client_options(load_settings(mongo_password="p"))


def test_a_missing_ca_file_names_the_variable(missing: Path) -> None:
    with pytest.raises(TransportSettingsError) as error:
        client_options(load_settings(mongo_tls_ca_file=missing))
    assert str(error.value) == f"APPOINTMENTS_MONGO_TLS_CA_FILE={missing}: no such file"


async def test_connect_uses_them(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """connect (api, worker, relay, projector) opens its client with the options."""
    opened: list[dict[str, Any]] = []

    class Opened(Exception):
        pass

    def fake_client(uri: str, **kwargs: Any) -> Any:
        opened.append({"uri": uri, **kwargs})
        raise Opened

    monkeypatch.setattr(database, "AsyncMongoClient", fake_client)
    settings = load_settings(
        mongo_uri="mongodb://db:27017/?replicaSet=rs0", mongo_tls_ca_file=pki.ca
    )
    with pytest.raises(Opened):
        await database.connect(settings)
    assert opened == [
        {
            "uri": "mongodb://db:27017/?replicaSet=rs0",
            "tz_aware": True,
            "tls": True,
            "tlsCAFile": str(pki.ca),
        }
    ]


def test_the_other_clients_open_the_same_way() -> None:
    """`relay status` (a probe) and the notification consumer: open_client, not a bare
    AsyncMongoClient on the URI that would leave the TLS settings out."""
    for module in (relay, notifications):
        assert module.open_client is open_client
        source = Path(module.__file__ or "").read_text()
        assert "AsyncMongoClient(settings.mongo_uri" not in source, module.__name__
