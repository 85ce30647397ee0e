"""Kafka over TLS for real: a Tansu broker behind a TLS front that requires a client
certificate of the test CA, its advertised address the front's, so every connection of
a client goes through TLS. messaging/kafka.py's options (the relay's producer, the
notification consumer) get through with the settings alone, and not without them."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from config import Settings, load_settings
from messaging.kafka import make_producer, security_options
from tests.integration.transport.tls_proxy import tls_front
from tests.unit.transport.pki import Pki


def mtls_settings(front: str, pki: Pki, **overrides: object) -> Settings:
    return load_settings(
        **{
            "kafka_bootstrap_servers": front,
            "kafka_security_protocol": "SSL",
            "kafka_ssl_ca_file": pki.ca,
            "kafka_ssl_cert_file": pki.client_cert,
            "kafka_ssl_key_file": pki.client_key,
            "kafka_enable_idempotence": False,  # Tansu refuses it
        }
        | overrides
    )


async def test_the_relays_producer_and_a_consumer_over_mtls(
    kafka_backend: tuple[int, int], pki: Pki
) -> None:
    backend, front_port = kafka_backend
    async with tls_front(backend, pki, port=front_port) as front:
        settings = mtls_settings(front.address, pki)
        topic = f"tls-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers, **security_options(settings)
        )
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()

        producer = make_producer(settings)
        await producer.start()
        try:
            await producer.send_and_wait(topic, {"over": "tls"}, key="appt-1")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            **security_options(settings),
        )
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"appt-1", b'{"over":"tls"}')
        assert front.handshakes >= 2  # every client connected through TLS


@pytest.mark.parametrize(
    "overrides",
    [
        {"kafka_ssl_cert_file": None, "kafka_ssl_key_file": None},  # no client certificate
        {"kafka_ssl_ca_file": None},  # the system's CAs do not know the front's certificate
    ],
    ids=["no-client-certificate", "unknown-server-ca"],
)
async def test_without_the_right_settings_nothing_connects(
    kafka_backend: tuple[int, int], pki: Pki, overrides: dict[str, object]
) -> None:
    backend, front_port = kafka_backend
    async with tls_front(backend, pki, port=front_port) as front:
        producer = make_producer(mtls_settings(front.address, pki, **overrides))
        try:
            with pytest.raises(KafkaConnectionError):
                await producer.start()
        finally:
            await producer.stop()
        assert front.handshakes == 0
