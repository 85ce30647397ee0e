"""The Kafka producer the relay publishes with, built from the one Settings object.

Real Kafka runs ``acks=all`` with the idempotent producer, so a retried send is never
written twice and never reordered within a partition. The local Tansu broker refuses the
idempotent producer, so the local stack turns it off; order per partition still holds
because aiokafka keeps at most one request in flight per partition, and the relay itself
waits for each event's ack before it sends the next event of the same appointment.

Managed Kafka speaks TLS and SASL: ``security_options`` builds them from the settings, for
this producer and for the notification consumer alike.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    BrokerNotAvailableError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    KafkaUnavailableError,
    RequestTimedOutError,
)

from config import Settings
from config.transport import TransportSettingsError, secret, setting_path, variable

_ACKS: dict[str, int | str] = {"all": "all", "-1": "all", "1": 1, "0": 0}

# Errors that say "Kafka is not reachable right now", whatever aiokafka's ``retriable``
# flag says about them. A missing topic (UnknownTopicOrPartitionError, retriable) belongs
# here too: after a restart of the local broker the topic is gone until it is recreated.
_UNAVAILABLE = (
    KafkaConnectionError,
    KafkaTimeoutError,
    KafkaUnavailableError,
    BrokerNotAvailableError,
    RequestTimedOutError,
    ConnectionError,
    TimeoutError,
)


def acks(value: str) -> int | str:
    """The producer's ``acks`` from the setting: "all" -> "all", "1" -> 1, "0" -> 0."""
    try:
        return _ACKS[value.strip().lower()]
    except KeyError:
        raise ValueError(f"kafka_acks must be one of all, 1, 0; not {value!r}") from None


def encode_value(envelope: dict[str, Any]) -> bytes:
    """Compact JSON, UTF-8: the bytes every consumer parses."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def encode_key(key: str) -> bytes:
    """The appointment id: Kafka sends equal keys to one partition, which keeps order."""
    return key.encode()


_SASL = ("SASL_PLAINTEXT", "SASL_SSL")
_TLS = ("SSL", "SASL_SSL")


def security_options(settings: Settings) -> dict[str, Any]:
    """aiokafka's transport security options, for producers and consumers alike.

    PLAINTEXT (the default, the local broker): none, so aiokafka's own defaults apply as
    before. SSL and SASL_SSL: an ``ssl_context`` that verifies the brokers against the CA
    file (or the system's CAs) and presents the client certificate, if one is set.
    SASL_PLAINTEXT and SASL_SSL: the mechanism and the credentials (aiokafka takes SCRAM's
    as ``sasl_plain_*`` too). Settings that the protocol would ignore are refused, so a
    forgotten ``APPOINTMENTS_KAFKA_SECURITY_PROTOCOL`` never sends credentials in clear."""
    protocol = settings.kafka_security_protocol
    sasl_given = [
        field
        for field in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
        if getattr(settings, field) is not None
    ]
    if settings.kafka_sasl_password_file is not None:
        sasl_given.append("kafka_sasl_password_file")
    tls_given = [
        field
        for field in ("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file")
        if getattr(settings, field) is not None
    ]
    protocol_variable = f"{variable('kafka_security_protocol')}={protocol}"
    if protocol not in _SASL and sasl_given:
        raise TransportSettingsError(
            f"{', '.join(map(variable, sasl_given))} set, but {protocol_variable} uses no "
            "SASL: use SASL_SSL (or SASL_PLAINTEXT), or unset them"
        )
    if protocol not in _TLS and tls_given:
        raise TransportSettingsError(
            f"{', '.join(map(variable, tls_given))} set, but {protocol_variable} uses no "
            "TLS: use SASL_SSL or SSL, or unset them"
        )
    options: dict[str, Any] = {}
    if protocol == "PLAINTEXT":
        return options
    options["security_protocol"] = protocol
    if protocol in _TLS:
        options["ssl_context"] = ssl_context(settings)
    if protocol in _SASL:
        password = secret(settings, "kafka_sasl_password")
        missing = [
            name
            for name, value in (
                ("kafka_sasl_mechanism", settings.kafka_sasl_mechanism),
                ("kafka_sasl_username", settings.kafka_sasl_username),
                ("kafka_sasl_password", password),
            )
            if value is None
        ]
        if missing:
            raise TransportSettingsError(
                f"{protocol_variable} needs {', '.join(map(variable, missing))}"
                + (" (or _FILE)" if "kafka_sasl_password" in missing else "")
            )
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password,
        }
    return options


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the brokers' certificates and host names against the CA file or, without
    one, the system's CAs; presents the client certificate (mTLS) if one is set."""
    ca = setting_path(settings, "kafka_ssl_ca_file")
    cert = setting_path(settings, "kafka_ssl_cert_file")
    key = setting_path(settings, "kafka_ssl_key_file")
    if key is not None and cert is None:
        raise TransportSettingsError(
            f"{variable('kafka_ssl_key_file')} is set without {variable('kafka_ssl_cert_file')}"
        )
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    except ssl.SSLError as error:
        raise TransportSettingsError(
            f"{variable('kafka_ssl_ca_file')}={ca}: not a PEM CA certificate ({error})"
        ) from None
    if cert is not None:
        try:
            # No password: an encrypted key fails here rather than prompting on a terminal.
            context.load_cert_chain(cert, key, password=lambda: b"")
        except ssl.SSLError as error:
            raise TransportSettingsError(
                f"{variable('kafka_ssl_cert_file')}={cert}: cannot load the client "
                f"certificate and its unencrypted private key ({error})"
            ) from None
    return context


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """A producer that is not started yet (``await producer.start()`` connects).

    ``overrides`` pass further aiokafka options (tests shrink ``max_request_size``)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "acks": acks(settings.kafka_acks),
        "enable_idempotence": settings.kafka_enable_idempotence,
        "linger_ms": settings.kafka_linger_ms,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "key_serializer": encode_key,
        "value_serializer": encode_value,
        **security_options(settings),
    }
    return AIOKafkaProducer(**(options | overrides))


def is_transient(error: BaseException) -> bool:
    """True if ``error`` says Kafka is unavailable (wait and retry the same event), False
    if it is about the event itself (too large, refused), which counts as an attempt."""
    if isinstance(error, _UNAVAILABLE):  # asyncio.TimeoutError is TimeoutError since 3.11
        return True
    return isinstance(error, KafkaError) and bool(error.retriable)


def error_text(error: BaseException) -> str:
    """``Name: message`` for the outbox's last_error (aiokafka's texts already start with
    the name; the standard library's do not)."""
    text, name = str(error), type(error).__name__
    return text if text.startswith(name) else f"{name}: {text}".rstrip(": ")
