"""The Kafka producer the relay publishes with, built from the one Settings object.

Real Kafka runs ``acks=all`` with the idempotent producer, so a retried send is never
written twice and never reordered within a partition. The local Tansu broker refuses the
idempotent producer, so the local stack turns it off; order per partition still holds
because aiokafka keeps at most one request in flight per partition, and the relay itself
waits for each event's ack before it sends the next event of the same appointment.
"""

from __future__ import annotations

import json
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
