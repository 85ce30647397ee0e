"""Which message an appointment event makes, and what the consumer refuses to parse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.events import EventType
from simulators.notifications import Envelope, compose, parse
from tests.envelopes import event_value


def envelope(event_type: str, **data: Any) -> Envelope:
    value = event_value(event_type, event_id="e-1", a_field_from_a_later_version=True, **data)
    return Envelope.model_validate(value)


def test_a_booking_tells_the_patient_in_the_clinics_time() -> None:
    message = compose(envelope(EventType.SCHEDULED.value))
    assert message is not None
    assert message.recipient == "p-1"
    assert message.event_id == "e-1"
    assert "d-1" in message.text
    assert "10:00 CET" in message.text  # 09:00 UTC is 10:00 in Berlin in January


@pytest.mark.parametrize(
    "event_type",
    [EventType.REQUESTED, EventType.CHECKED_IN, EventType.COMPLETED, EventType.EDITED],
)
def test_internal_steps_make_no_message(event_type: EventType) -> None:
    assert compose(envelope(event_type.value)) is None


@pytest.mark.parametrize(
    "event_type",
    [
        EventType.SCHEDULED,
        EventType.CONFIRMED,
        EventType.RESCHEDULED,
        EventType.CANCELLED,
        EventType.NO_SHOW,
        EventType.BOOKING_FAILED,
    ],
)
def test_every_event_a_patient_hears_of_has_its_own_text(event_type: EventType) -> None:
    message = compose(envelope(event_type.value))
    assert message is not None
    assert message.event_type == event_type.value


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", json.dumps({"event_id": "e-1"}).encode(), None],
)
def test_records_that_are_not_events_are_skipped(raw: bytes | None) -> None:
    assert parse(raw) is None


def test_a_start_without_an_offset_is_not_an_event() -> None:
    raw = envelope(EventType.SCHEDULED.value).model_dump(mode="json")
    raw["data"]["start"] = "2030-01-07T09:00:00"
    assert parse(json.dumps(raw).encode()) is None
