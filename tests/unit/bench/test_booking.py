"""The baseline retries a step as Temporal would under the step's retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from bench.booking import booking_body, retry_delay, retryable
from bench.slots import Slot
from domain.errors import PeerUnavailable
from workflows.policies import DB_RETRY, PEER_RETRY, UNTIL_DONE


def test_a_transient_fault_is_retried_and_a_refusal_is_not() -> None:
    assert retryable(PeerUnavailable("doctor", "ReadError"), PEER_RETRY)
    assert retryable(TimeoutError(), DB_RETRY)
    assert not retryable(ApplicationError("taken", type="SlotUnavailable"), PEER_RETRY)
    assert not retryable(ApplicationError("anything", non_retryable=True), PEER_RETRY)
    assert retryable(ApplicationError("breaker half-open", type="BreakerOpen"), UNTIL_DONE)


def test_the_backoff_doubles_up_to_the_policys_maximum() -> None:
    fault = PeerUnavailable("billing", "503")
    delays = [retry_delay(fault, PEER_RETRY, attempt) for attempt in range(1, 6)]
    assert delays == pytest.approx([0.25, 0.5, 1.0, 2.0, 2.0])


def test_an_errors_own_delay_wins() -> None:
    fault = ApplicationError("open", type="BreakerOpen", next_retry_delay=timedelta(seconds=7))
    assert retry_delay(fault, UNTIL_DONE, 1) == 7.0


def test_the_booking_body_is_what_the_api_takes() -> None:
    slot = Slot("doc-on-call", "pat-anna-schmidt", datetime(2030, 1, 7, 8, tzinfo=UTC), 15)
    assert booking_body(slot) == {
        "patient_id": "pat-anna-schmidt",
        "doctor_id": "doc-on-call",
        "start": "2030-01-07T08:00:00+00:00",
        "duration_minutes": 15,
    }
