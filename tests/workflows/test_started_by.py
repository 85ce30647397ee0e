"""Whose run a workflow id names, as the saga gateway on Temporal answers it
(``TemporalSagas.started_by``): the caller recorded in the run's input, read back through
the payload codec, while it runs and once it ended; nobody for an id no run has. It is
how a run started before Idempotency-Keys were scoped to their caller is joined by that
caller only (application/saga_runs.py)."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.temporal import TemporalSagas
from domain.events import EventContext
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_booking_workflow import booking_running, request
from workflows.contracts.booking import legacy_workflow_id


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def test_a_run_names_the_caller_that_started_it(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    sagas = TemporalSagas(workflow_env.client, "no-queue-needed")
    booking = request().model_copy(update={"caller": EventContext(actor="patient:pat-1")})

    async with booking_running(workflow_env, world, booking) as handle:
        running = await sagas.started_by(handle.id)
        await handle.result()
    ended = await sagas.started_by(handle.id)

    assert (running, ended) == ("patient:pat-1", "patient:pat-1")


async def test_an_id_no_run_has_names_nobody(workflow_env: WorkflowEnvironment) -> None:
    sagas = TemporalSagas(workflow_env.client, "no-queue-needed")

    assert await sagas.started_by(legacy_workflow_id(str(uuid.uuid4()))) is None
