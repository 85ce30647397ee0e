"""messaging/kafka.py: aiokafka's security options from the settings, for each protocol
and SASL mechanism, in the relay's producer and the notification consumer alike."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from config.settings import Settings
from config.transport import TransportSettingsError
from messaging import relay
from messaging.kafka import make_producer, security_options
from simulators.notifications import NotificationConsumer
from tests.unit.transport.pki import Pki

SASL_SSL: dict[str, Any] = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "appointments",
    "kafka_sasl_password": "s3cret",
}


def ca_subjects(context: ssl.SSLContext) -> list[Any]:
    return [cert["subject"] for cert in context.get_ca_certs()]


def test_plaintext_passes_nothing() -> None:
    """aiokafka's defaults (PLAINTEXT, no SSL context), exactly as before."""
    assert security_options(load_settings()) == {}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_with_each_mechanism(mechanism: str) -> None:
    """Managed Kafka (Confluent Cloud: PLAIN; MSK, Aiven, Strimzi: SCRAM): TLS against
    the system's CAs, with host name checks, and the SASL credentials."""
    options = security_options(load_settings(**SASL_SSL | {"kafka_sasl_mechanism": mechanism}))
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "appointments",
        "sasl_plain_password": "s3cret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_sasl_password_from_a_mounted_file_and_a_private_ca(pki: Pki, tmp_path: Path) -> None:
    mounted = tmp_path / "kafka-password"
    mounted.write_text("from-the-secret\n")
    settings = load_settings(
        **SASL_SSL | {"kafka_sasl_password": None},
        kafka_sasl_password_file=mounted,
        kafka_ssl_ca_file=pki.ca,
    )
    options = security_options(settings)
    assert options["sasl_plain_password"] == "from-the-secret"
    assert ca_subjects(options["ssl_context"]) == [((("commonName", "test CA"),),)]


def test_ssl_with_a_client_certificate(pki: Pki) -> None:
    """mTLS without SASL (Aiven's default, Strimzi's tls listener)."""
    for cert, key in ((pki.client_cert, pki.client_key), (pki.client_combined, None)):
        options = security_options(
            load_settings(
                kafka_security_protocol="SSL",
                kafka_ssl_ca_file=pki.ca,
                kafka_ssl_cert_file=cert,
                kafka_ssl_key_file=key,
            )
        )
        assert set(options) == {"security_protocol", "ssl_context"}
        assert options["security_protocol"] == "SSL"


def test_sasl_plaintext_has_no_ssl_context() -> None:
    options = security_options(
        load_settings(**SASL_SSL | {"kafka_security_protocol": "SASL_PLAINTEXT"})
    )
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert "ssl_context" not in options


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("kafka_sasl_mechanism", "APPOINTMENTS_KAFKA_SASL_MECHANISM"),
        ("kafka_sasl_username", "APPOINTMENTS_KAFKA_SASL_USERNAME"),
        ("kafka_sasl_password", "APPOINTMENTS_KAFKA_SASL_PASSWORD (or _FILE)"),
    ],
)
def test_sasl_without_a_credential_is_refused(unset: str, named: str) -> None:
    with pytest.raises(TransportSettingsError) as error:
        security_options(load_settings(**SASL_SSL | {unset: None}))
    assert str(error.value) == f"APPOINTMENTS_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs {named}"


def test_credentials_without_a_sasl_protocol_are_refused() -> None:
    """A forgotten protocol setting would otherwise connect in plaintext, unauthenticated."""
    settings = load_settings(**SASL_SSL | {"kafka_security_protocol": "PLAINTEXT"})
    with pytest.raises(TransportSettingsError, match="PLAINTEXT uses no SASL"):
        security_options(settings)


def test_tls_files_without_a_tls_protocol_are_refused(pki: Pki) -> None:
    settings = load_settings(
        **SASL_SSL | {"kafka_security_protocol": "SASL_PLAINTEXT"}, kafka_ssl_ca_file=pki.ca
    )
    with pytest.raises(TransportSettingsError, match="SASL_PLAINTEXT uses no TLS"):
        security_options(settings)


def test_a_key_without_its_certificate_is_refused(pki: Pki) -> None:
    settings = load_settings(kafka_security_protocol="SSL", kafka_ssl_key_file=pki.client_key)
    with pytest.raises(TransportSettingsError, match="KEY_FILE is set without"):
        security_options(settings)


def test_a_file_that_is_not_a_certificate_is_refused(pki: Pki) -> None:
    settings = load_settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=pki.client_key)
    with pytest.raises(TransportSettingsError, match="not a PEM CA certificate"):
        security_options(settings)
    wrong_key = load_settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cert_file=pki.client_cert,
        kafka_ssl_key_file=pki.server_key,
    )
    with pytest.raises(TransportSettingsError, match="cannot load the client certificate"):
        security_options(wrong_key)


def test_a_missing_ca_file_names_the_variable(missing: Path) -> None:
    settings = load_settings(**SASL_SSL, kafka_ssl_ca_file=missing)
    with pytest.raises(TransportSettingsError) as error:
        security_options(settings)
    assert str(error.value) == f"APPOINTMENTS_KAFKA_SSL_CA_FILE={missing}: no such file"


# --- the clients built from them --------------------------------------------------------


async def test_the_relays_producer_gets_them() -> None:
    producer = make_producer(load_settings(**SASL_SSL))
    try:
        client = producer.client
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "appointments"
        assert client._sasl_plain_password == "s3cret"
        assert isinstance(client._ssl_context, ssl.SSLContext)
    finally:
        await producer.stop()


async def test_the_notification_consumer_gets_them() -> None:
    consumer = NotificationConsumer(load_settings(**SASL_SSL), sent=None)  # type: ignore[arg-type]
    built = consumer._consumer()
    try:
        assert built._client._security_protocol == "SASL_SSL"
        assert built._client._sasl_mechanism == "SCRAM-SHA-512"
        assert isinstance(built._client._ssl_context, ssl.SSLContext)
    finally:
        await built.stop()


async def test_the_relay_stops_at_start_on_a_missing_file(
    missing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before MongoDB, before the lease: a standby relay must not run (and look healthy)
    with a setting that would fail the moment it takes over."""

    async def no_mongo(_settings: Settings) -> Any:
        raise AssertionError("connected to MongoDB before checking Kafka's settings")

    monkeypatch.setattr(relay, "connect", no_mongo)
    with pytest.raises(TransportSettingsError, match="APPOINTMENTS_KAFKA_SASL_PASSWORD_FILE="):
        await relay._serve(
            load_settings(
                **SASL_SSL | {"kafka_sasl_password": None}, kafka_sasl_password_file=missing
            )
        )
