"""The API's news to an appointment's journey (``adapters.temporal.TemporalJourneyNews``)
on the time-skipping test server, with the real journey workflow: a check-in signalled
after its commit is what the journey knows at once, and a completion ends it; an
appointment without a journey, or whose journey has ended, is no error; a Temporal that
cannot be reached is logged, never raised (the change it reports is committed already).

No timer of the journey comes due here (its appointment is days ahead and the test
server's clock only skips while a result is awaited, after the journey has ended), so
its worker needs no activities."""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from loguru import logger
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.temporal import TemporalJourneyNews
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.waiting import eventually_async
from tests.workflows.server import ENCRYPTED
from workflows.contracts import journey
from workflows.contracts.journey import Facts, JourneyRequest, Rules
from workflows.journey import AppointmentJourneyWorkflow


def appointment(
    start: datetime, status: AppointmentStatus = AppointmentStatus.SCHEDULED, version: int = 2
) -> Appointment:
    return Appointment(
        id=str(uuid.uuid4()),
        patient_id="pat-1",
        doctor_id="doc-1",
        start=start,
        duration_minutes=15,
        timezone="Europe/Berlin",
        status=status,
        version=version,
        created_at=start - timedelta(days=5),
        updated_at=start - timedelta(days=5),
    )


def changed(booked: Appointment, status: AppointmentStatus) -> Appointment:
    """``booked`` after a change to ``status`` (the next version)."""
    return dataclasses.replace(booked, status=status, version=booked.version + 1)


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.strip()), format="{message}", level="WARNING")
    yield lines
    logger.remove(sink)


async def test_a_check_in_reaches_the_journey_and_a_completion_ends_it(
    workflow_env: WorkflowEnvironment,
) -> None:
    start = (await workflow_env.get_current_time()).replace(microsecond=0) + timedelta(days=3)
    booked = appointment(start.astimezone(UTC))
    news = TemporalJourneyNews(workflow_env.client)
    queue = f"q-{uuid.uuid4()}"

    client = workflow_env.client
    async with Worker(client, task_queue=queue, workflows=[AppointmentJourneyWorkflow]):
        handle = await workflow_env.client.start_workflow(
            AppointmentJourneyWorkflow.run,
            JourneyRequest(
                appointment_id=booked.id,
                patient_id=booked.patient_id,
                doctor_id=booked.doctor_id,
                facts=Facts.of(booked),
                rules=Rules(),
            ),
            id=journey.workflow_id(booked.id),
            task_queue=queue,
        )

        async def told() -> bool:
            view = await handle.query(AppointmentJourneyWorkflow.view)
            return view.status is AppointmentStatus.CHECKED_IN

        assert not await told()
        checked_in = changed(booked, AppointmentStatus.CHECKED_IN)
        await news.changed(checked_in)
        await eventually_async(told, 10.0, "the journey knows of the check-in")
        completed = changed(checked_in, AppointmentStatus.COMPLETED)
        await news.changed(completed)
        outcome = await handle.result()

    assert outcome.status is AppointmentStatus.COMPLETED
    # Its journey has ended: telling it again is no error.
    await news.changed(completed)


async def test_an_appointment_without_a_journey_is_no_error(
    workflow_env: WorkflowEnvironment, warnings: list[str]
) -> None:
    booked = appointment(datetime(2030, 1, 8, 13, 0, tzinfo=UTC))

    await TemporalJourneyNews(workflow_env.client).changed(
        changed(booked, AppointmentStatus.CONFIRMED)
    )

    assert warnings == []


async def test_a_temporal_that_cannot_be_reached_is_logged_never_raised(
    warnings: list[str],
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = await Client.connect(
        f"127.0.0.1:{port}",
        lazy=True,
        data_converter=ENCRYPTED,
        retry_config=RetryConfig(max_retries=0),
    )
    booked = appointment(datetime(2030, 1, 8, 13, 0, tzinfo=UTC))

    await TemporalJourneyNews(client).changed(changed(booked, AppointmentStatus.CHECKED_IN))

    assert any(booked.id in line for line in warnings), warnings
