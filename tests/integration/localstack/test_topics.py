"""The local stack creates every topic the service publishes to: the appointments' and
the waitlist's, on a real Kafka wire protocol (Tansu)."""

from __future__ import annotations

from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from localstack import servers
from localstack.service import LocalService, ServicePorts


async def test_the_stack_creates_the_appointment_and_the_waitlist_topics(tmp_path: Path) -> None:
    service = LocalService(tmp_path / "stack", ServicePorts.free())
    kafka = servers.kafka(service.ports.infra.kafka, tmp_path / "logs")
    with kafka:
        await service._ensure_topics()  # what start() runs once the servers are up
        await service._ensure_topics()  # and again on the next start: no error
        admin = AIOKafkaAdminClient(bootstrap_servers=service.infra.kafka_bootstrap)
        await admin.start()
        try:
            topics = set(await admin.list_topics())
        finally:
            await admin.close()
    settings = service.settings
    assert {settings.kafka_topic, settings.waitlist_topic} <= topics
    assert settings.waitlist_topic == "waitlist.events"
