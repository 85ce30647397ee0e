"""Which message an appointment event makes, and what the consumer refuses to parse."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.events import EventType
from messaging.envelope import envelope as to_envelope
from simulators.notifications import Envelope, compose, parse
from tests.envelopes import event_value
from tests.unit.messaging.lifecycles import every_event_type


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


# --- the journey's events ----------------------------------------------------------------


def produced(event_type: EventType) -> dict[str, Any]:
    """The envelope the service itself makes for an event of this type."""
    change = next(c for c in every_event_type() if c.event.type is event_type)
    value: dict[str, Any] = json.loads(json.dumps(to_envelope(change.event, change.state)))
    return value


def sent_ahead(value: dict[str, Any], before: timedelta) -> dict[str, Any]:
    """The reminder as it goes out ``before`` its start (a few seconds late, as timers are)."""
    start = datetime.fromisoformat(value["details"]["start_local"])
    value["occurred_at"] = (start - before + timedelta(seconds=3)).isoformat()
    return value


def test_a_reminder_names_the_doctor_the_local_time_and_both_links() -> None:
    value = sent_ahead(produced(EventType.REMINDER_DUE), timedelta(hours=24))
    links = value["details"]["links"]
    message = compose(Envelope.model_validate(value))
    assert message is not None
    assert message.recipient == "pat-anna-schmidt"
    assert message.channel == "sms+email"
    assert message.text == (
        "Reminder: your appointment with Dr. Noah Fischer on Tue 08 Jan 2030, 09:00 CET "
        f"(in 24 hours). Confirm: {links['confirm']} Cancel: {links['cancel']}"
    )


def test_a_reminder_in_summer_shows_summer_time() -> None:
    value = produced(EventType.REMINDER_DUE)
    value["details"] |= {"start_local": "2030-07-08T09:00:00+02:00", "offset_minutes": 120}
    message = compose(Envelope.model_validate(sent_ahead(value, timedelta(hours=2))))
    assert message is not None
    assert "on Mon 08 Jul 2030, 09:00 CEST (in 2 hours)." in message.text


def test_a_reminder_moved_out_of_quiet_hours_says_how_long_ahead_it_really_is() -> None:
    """The 2-hour reminder of a 07:00 appointment goes out at 20:59 the evening before."""
    value = produced(EventType.REMINDER_DUE)
    value["details"] |= {"start_local": "2030-07-09T07:00:00+02:00", "offset_minutes": 120}
    value["occurred_at"] = "2030-07-08T18:59:00+00:00"
    message = compose(Envelope.model_validate(value))
    assert message is not None
    assert "on Tue 09 Jul 2030, 07:00 CEST (in 10 hours)." in message.text


@pytest.mark.parametrize(
    ("minutes", "ahead"),
    [
        (1440, "in 24 hours"),
        (120, "in 2 hours"),
        (60, "in 1 hour"),
        (90, "in 90 minutes"),
        (3, "in 3 minutes"),
        (1, "in 1 minute"),
    ],
)
def test_a_reminder_says_how_long_ahead_it_goes_out(minutes: int, ahead: str) -> None:
    value = produced(EventType.REMINDER_DUE)
    value["details"]["offset_minutes"] = minutes
    message = compose(Envelope.model_validate(sent_ahead(value, timedelta(minutes=minutes))))
    assert message is not None
    assert f"({ahead})." in message.text


def test_a_reminder_without_its_details_still_reminds_from_the_data() -> None:
    value = produced(EventType.REMINDER_DUE)
    del value["details"]
    message = compose(Envelope.model_validate(value))
    assert message is not None
    assert message.text.startswith("Reminder: your appointment with doc-")
    assert "Confirm:" not in message.text


def test_a_reversed_no_show_corrects_the_missed_message_and_a_voided_fee_names_its_amount() -> None:
    reversed_ = compose(Envelope.model_validate(produced(EventType.NO_SHOW_REVERSED)))
    assert reversed_ is not None
    assert "is on record" in reversed_.text
    assert "no no-show fee stands" in reversed_.text
    voided = compose(Envelope.model_validate(produced(EventType.NO_SHOW_FEE_VOIDED)))
    assert voided is not None
    assert voided.text.startswith("The no-show fee of 25.00 for your appointment with doc-")


def test_every_event_the_service_makes_is_read() -> None:
    for change in every_event_type():
        value = json.loads(json.dumps(to_envelope(change.event, change.state)))
        envelope = parse(json.dumps(value).encode())
        assert envelope is not None
        assert envelope.details == value.get("details")
        compose(envelope)  # a message or none, never an error
