"""The request bodies (the application's command models, with Swagger's examples) are
validated as strictly as their JSON Schema says, the way FastAPI
validates them (``model_validate`` of the parsed JSON), and their examples can succeed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.schemas import BookAppointment, CancelAppointment, RescheduleAppointment
from application.commands import ListAppointments as ListQuery
from application.identifiers import DATE_TIME_MESSAGE
from domain.rules import BookingLimits, validate_requested_time
from simulators.schedule import why_not_offered
from simulators.seed_data import DOCTORS, ON_CALL_DOCTOR_ID, PATIENTS

START = "2030-01-07T09:00:00+01:00"
EPOCH = int(datetime.fromisoformat(START).timestamp())
VALID = {"patient_id": "pat-anna-schmidt", "doctor_id": "doc-on-call", "start": START}
BOOKING = {**VALID, "duration_minutes": 15}


def test_a_valid_booking_is_taken_as_sent() -> None:
    body = BookAppointment.model_validate(BOOKING | {"reason": "  cough  "})
    assert body.start == datetime(2030, 1, 7, 8, tzinfo=UTC)
    assert body.reason == "  cough  "


@pytest.mark.parametrize(
    "start",
    [START, "2030-01-07T08:00:00Z", "2030-01-07t08:00:00z", "2030-01-07T09:00:00.000+01:00"],
)
def test_every_rfc_3339_spelling_of_the_start_is_taken(start: str) -> None:
    assert BookAppointment.model_validate(
        BOOKING | {"start": start}
    ).start == datetime.fromisoformat(START)


LAX: dict[str, tuple[str, Any]] = {
    "start as Unix seconds": ("start", EPOCH),
    "start as a float": ("start", float(EPOCH)),
    "start as a string of digits": ("start", str(EPOCH)),
    "start as a negative string of digits": ("start", "-1"),
    "start without an offset": ("start", "2030-01-07T09:00:00"),
    "start without seconds": ("start", "2030-01-07T09:00+01:00"),
    "start with a space for T": ("start", "2030-01-07 09:00:00+01:00"),
    "start with an offset without colon": ("start", "2030-01-07T09:00:00+0100"),
    "start with a trailing newline": ("start", START + "\n"),
    "start a date only": ("start", "2030-01-07"),
    "duration as a string": ("duration_minutes", "15"),
    "duration as a float": ("duration_minutes", 15.0),
    "duration as a boolean": ("duration_minutes", True),
    "patient id padded with spaces": ("patient_id", "  pat-anna-schmidt  "),
    "doctor id with a trailing newline": ("doctor_id", "doc-on-call\n"),
    "reason as a number": ("reason", 42),
}


@pytest.mark.parametrize("case", sorted(LAX))
def test_a_booking_its_schema_forbids_is_refused(case: str) -> None:
    field, value = LAX[case]
    with pytest.raises(ValidationError) as raised:
        BookAppointment.model_validate(BOOKING | {field: value})
    assert [error["loc"][0] for error in raised.value.errors()] == [field]


def test_a_start_that_is_not_a_date_time_string_says_what_is_expected() -> None:
    with pytest.raises(ValidationError, match=re.escape(DATE_TIME_MESSAGE)):
        BookAppointment.model_validate(BOOKING | {"start": EPOCH})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start", EPOCH),
        ("start", str(EPOCH)),
        ("start", "2030-01-07T09:00:00"),
        ("duration_minutes", "15"),
        ("duration_minutes", 15.0),
    ],
)
def test_a_reschedule_is_as_strict(field: str, value: Any) -> None:
    assert RescheduleAppointment.model_validate({"start": START, "duration_minutes": 30})
    with pytest.raises(ValidationError):
        RescheduleAppointment.model_validate({"start": START} | {field: value})


def test_a_cancellation_reason_must_be_a_string() -> None:
    assert CancelAppointment.model_validate({"reason": "better"}).reason == "better"
    with pytest.raises(ValidationError):
        CancelAppointment.model_validate({"reason": 1})


@pytest.mark.parametrize("bound", ["from", "to"])
def test_a_list_query_takes_its_bounds_as_iso_strings_only(bound: str) -> None:
    """Query values are strings: ``limit`` stays lax, ``from`` and ``to`` take only an
    ISO 8601 date-time with an offset (not Unix seconds)."""
    query = ListQuery.model_validate({bound: START, "limit": "5"})
    assert query.limit == 5
    assert datetime.fromisoformat(START) in (query.start_from, query.start_to)
    for value in (str(EPOCH), "2030-01-07T09:00:00", "2030-01-07"):
        with pytest.raises(ValidationError):
            ListQuery.model_validate({bound: value})


def _example(model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    example = examples[0]
    assert isinstance(example, dict)
    return example


ON_CALL = next(d for d in DOCTORS if d.id == ON_CALL_DOCTOR_ID)


@pytest.mark.parametrize("model", [BookAppointment, RescheduleAppointment])
def test_the_examples_can_succeed(model: type[BaseModel]) -> None:
    """Swagger's "Try it out" sends the example: a seeded patient, the on-call doctor, a
    start tomorrow within the booking horizon, on the doctor's grid in working hours."""
    example = _example(model)
    body = model.model_validate(example)
    start: datetime = body.start  # type: ignore[attr-defined]
    duration = example.get("duration_minutes", 15)
    now = datetime.now(UTC)
    assert now < start < now + timedelta(days=2)
    validate_requested_time(start, duration, now, BookingLimits())
    assert why_not_offered(ON_CALL, start, duration) is None
    if model is BookAppointment:
        assert example["patient_id"] in {p.id for p in PATIENTS}
        assert example["doctor_id"] == ON_CALL_DOCTOR_ID
