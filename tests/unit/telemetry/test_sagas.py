"""A saga's outcome from the way its run ended, and the instruments that count it."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from temporalio.exceptions import ApplicationError, CancelledError, TimeoutError, TimeoutType

from telemetry.sagas import OUTCOMES, SagaInstruments, outcome_of
from workflows.contracts.saga import SagaRejected

REFUSALS = {"SlotUnavailable", "PatientNotFound"}


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "completed"),
        (ApplicationError("taken", type="SlotUnavailable", non_retryable=True), "refused"),
        (ApplicationError("billing down", type="BookingFailed", non_retryable=True), "compensated"),
        (ApplicationError("breaker", type="PeerCircuitOpen", non_retryable=True), "compensated"),
        (asyncio.CancelledError(), "compensated"),
        (CancelledError("cancelled"), "compensated"),
        (ApplicationError("not through run_saga", type="Odd"), "failed"),
        (TimeoutError("t", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]), "failed"),
        (RuntimeError("a bug: Temporal retries the workflow task"), None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_the_outcome_follows_run_sagas_contract(error: BaseException | None, outcome: str) -> None:
    assert outcome_of(error, REFUSALS) == outcome


def test_a_run_that_returned_a_rejection_was_refused() -> None:
    """A business refusal completes its run (workflows.saga.run_saga): it is still counted
    refused, not completed."""
    rejected = SagaRejected(type="SlotUnavailable", code="slot-unavailable", title="t", detail="d")
    assert outcome_of(None, REFUSALS, rejected) == "refused"
    assert outcome_of(None, REFUSALS, {"appointment_id": "a"}) == "completed"


def test_every_workflow_exports_every_outcome_from_the_start() -> None:
    registry = CollectorRegistry()
    SagaInstruments(registry, REFUSALS).prime(["BookingWorkflow"])

    for outcome in OUTCOMES:
        labels = {"workflow": "BookingWorkflow", "outcome": outcome}
        assert registry.get_sample_value("appointments_saga_outcomes_total", labels) == 0.0


def test_an_ended_saga_counts_once_under_its_outcome() -> None:
    registry = CollectorRegistry()
    sagas = SagaInstruments(registry, REFUSALS)
    sagas.saga_ended("BookingWorkflow", None)
    sagas.saga_ended("BookingWorkflow", ApplicationError("x", type="PatientNotFound"))
    sagas.saga_ended("BookingWorkflow", RuntimeError("task failure: no outcome"))
    rejected = SagaRejected(type="PatientNotFound", code="patient-not-found", title="t", detail="")
    sagas.saga_ended("BookingWorkflow", None, rejected)

    def count(outcome: str) -> float | None:
        labels = {"workflow": "BookingWorkflow", "outcome": outcome}
        return registry.get_sample_value("appointments_saga_outcomes_total", labels)

    assert count("completed") == 1.0
    assert count("refused") == 2.0
    assert count("failed") is None


def test_counting_never_raises_into_the_workflow() -> None:
    sagas = SagaInstruments(CollectorRegistry(), REFUSALS)
    sagas.outcomes = None  # type: ignore[assignment]  # broken on purpose

    sagas.saga_ended("BookingWorkflow", None)


def test_a_step_is_observed_under_its_activity_and_outcome() -> None:
    registry = CollectorRegistry()
    sagas = SagaInstruments(registry, REFUSALS)
    sagas.step_done("reserve_slot", True, 0.03)
    sagas.step_done("reserve_slot", False, 2.0)

    name = "appointments_saga_step_seconds_bucket"
    ok = {"activity": "reserve_slot", "outcome": "ok"}
    assert registry.get_sample_value(name, {**ok, "le": "0.05"}) == 1.0
    assert registry.get_sample_value(name, {**ok, "le": "0.025"}) == 0.0
    error = {"activity": "reserve_slot", "outcome": "error", "le": "2.5"}
    assert registry.get_sample_value(name, error) == 1.0
