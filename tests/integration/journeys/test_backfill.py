"""``journey backfill`` against a real Temporal dev server and MongoDB: each active
appointment gets its journey, as the booking saga would start it (id, type, task queue,
search attributes, input), once: a second run starts none. No worker runs, so every
journey stays at its first workflow task, which is all the backfill is about."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from config import Settings, load_settings
from domain.model import Appointment
from domain.status import AppointmentStatus
from localstack import servers
from localstack.ports import free_port
from persistence import AppointmentStore, connect
from tests.fakes import plant_into
from workflows.backfill import Tally, run_backfill
from workflows.client import connect_temporal
from workflows.contracts import journey
from workflows.contracts.journey import JourneyRequest
from workflows.search_attributes import APPOINTMENT_ID, DOCTOR_ID, PATIENT_ID

S = AppointmentStatus


@pytest.fixture(scope="module")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data: Path = tmp_path_factory.mktemp("temporal")
    port = free_port()
    with servers.temporal(port, free_port(), data / "temporal.db", data / "logs"):
        yield f"{servers.HOST}:{port}"


@pytest.fixture
async def settings(mongo_uri: str, temporal_address: str) -> AsyncIterator[Settings]:
    name = f"backfill_{uuid.uuid4().hex[:12]}"
    settings = load_settings(
        mongo_uri=mongo_uri,
        mongo_database=name,
        temporal_address=temporal_address,
        temporal_task_queue=f"backfill-{uuid.uuid4().hex[:8]}",  # no worker polls it
        reminder_offsets_minutes=[30],
    )
    client: Any = await connect(settings)
    try:
        yield settings
        await client.drop_database(name)
    finally:
        await client.close()


async def test_active_appointments_get_their_journeys_once(settings: Settings) -> None:
    mongo = await connect(settings)
    store = AppointmentStore(mongo, settings.kafka_topic)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
    planted: dict[AppointmentStatus, Appointment] = {}
    statuses = [S.SCHEDULED, S.CONFIRMED, S.CHECKED_IN, S.PENDING, S.CANCELLED]
    for index, status in enumerate(statuses):
        planted[status] = await plant_into(
            store.commit,
            patient_id="pat-anna-schmidt",
            doctor_id=f"doc-{index}",
            start=start,
            status=status,
        )
    await mongo.close()

    assert await run_backfill(settings, dry_run=True, progress=False) == Tally(started=3)
    first = await run_backfill(settings)  # counts the total for its progress line too
    second = await run_backfill(settings, progress=False)

    assert first == Tally(started=3, had_one=0)
    assert second == Tally(started=0, had_one=3)
    assert await run_backfill(settings, dry_run=True, progress=False) == Tally(had_one=3)

    client: Client = await connect_temporal(settings)
    for status, appointment in planted.items():
        handle = client.get_workflow_handle(journey.workflow_id(appointment.id))
        if status in (S.PENDING, S.CANCELLED):
            with pytest.raises(RPCError) as missing:
                await handle.describe()
            assert missing.value.status == RPCStatusCode.NOT_FOUND
            continue
        described = await handle.describe()
        assert described.workflow_type == journey.WORKFLOW
        assert described.status == WorkflowExecutionStatus.RUNNING
        assert described.task_queue == settings.temporal_task_queue
        attributes = described.typed_search_attributes
        assert attributes.get(APPOINTMENT_ID) == appointment.id
        assert attributes.get(PATIENT_ID) == appointment.patient_id
        assert attributes.get(DOCTOR_ID) == appointment.doctor_id
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        (request,) = await client.data_converter.decode(started.input.payloads, [JourneyRequest])
        assert isinstance(request, JourneyRequest)
        assert request.facts.status is status
        assert request.facts.start == appointment.start
        assert request.rules.reminder_offsets_minutes == (30,)
