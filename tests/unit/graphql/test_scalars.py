"""DateTime takes an instant only with its offset, in variables and literals alike, and
always answers with one; enums and UUIDs refuse what they do not know."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from strawberry.exceptions import StrawberryInputCoercionError

from api.graphql.scalars import parse_date_time, serialize_date_time
from application.identifiers import DATE_TIME_MESSAGE
from tests.unit.graphql.conftest import FakeSchedule, MakeContext, execute

SCHEDULE = """query ($from: DateTime!, $to: DateTime!) {
  doctorSchedule(doctorId: "doc-on-call", from: $from, to: $to) { id start end }
}"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-07T09:00:00+01:00", datetime(2030, 1, 7, 8, tzinfo=UTC)),
        ("2030-01-07T08:00:00Z", datetime(2030, 1, 7, 8, tzinfo=UTC)),
        ("2030-01-07T08:00:00.250-00:00", datetime(2030, 1, 7, 8, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_an_instant_with_an_offset_is_taken(text: str, expected: datetime) -> None:
    parsed = parse_date_time(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize(
    "value",
    [
        "2030-01-07T09:00:00",  # naive: which zone? refused, as REST refuses it
        "2030-01-07",
        "2030-01-07 09:00:00+01:00",
        "1893974400",
        1893974400,
        None,
        "not a date",
    ],
)
def test_anything_else_is_refused_with_rest_words(value: object) -> None:
    with pytest.raises(StrawberryInputCoercionError, match="with a UTC offset") as refused:
        parse_date_time(value)
    assert DATE_TIME_MESSAGE in refused.value.message


def test_an_instant_leaves_with_its_offset() -> None:
    berlin = timezone(timedelta(hours=1))
    assert (
        serialize_date_time(datetime(2030, 1, 7, 9, tzinfo=berlin)) == "2030-01-07T09:00:00+01:00"
    )
    # Storage keeps UTC; a naive value read back is that instant, never local time.
    assert serialize_date_time(datetime(2030, 1, 7, 8)) == "2030-01-07T08:00:00+00:00"


async def test_a_naive_variable_is_bad_user_input_and_nothing_is_read(
    make_context: MakeContext,
) -> None:
    schedule = FakeSchedule()
    variables = {"from": "2030-01-07T00:00:00", "to": "2030-01-08T00:00:00+01:00"}
    result = await execute(make_context(schedule=schedule), SCHEDULE, variables)

    assert result.data is None
    [error] = result.errors
    assert "$from" in error.message
    assert DATE_TIME_MESSAGE in error.message
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert error.extensions["status"] == 422
    assert error.extensions["type"].endswith("/validation-error")
    assert schedule.calls == []


async def test_a_naive_literal_is_refused_before_anything_runs(make_context: MakeContext) -> None:
    schedule = FakeSchedule()
    query = """{ doctorSchedule(doctorId: "doc-on-call", from: "2030-01-07T00:00:00",
                 to: "2030-01-08T00:00:00Z") { id } }"""
    result = await execute(make_context(schedule=schedule), query)

    [error] = result.errors
    assert DATE_TIME_MESSAGE in error.message
    assert error.extensions["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert schedule.calls == []


async def test_instants_answer_with_offsets(make_context: MakeContext) -> None:
    variables = {"from": "2030-01-07T00:00:00+01:00", "to": "2030-01-08T00:00:00+01:00"}
    result = await execute(make_context(), SCHEDULE, variables)

    assert result.errors is None
    [entry] = result.data["doctorSchedule"]
    assert entry["start"] == "2030-01-07T08:00:00+00:00"
    assert entry["end"] == "2030-01-07T08:15:00+00:00"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            'query ($day: Date!) { freeSlots(doctorId: "doc-on-call", day: $day) { start } }',
            {"day": "2030-13-01"},
        ),
        ('{ freeSlots(doctorId: "doc-on-call", day: "07.01.2030") { start } }', None),
    ],
)
async def test_malformed_days_are_refused_before_anything_runs(
    make_context: MakeContext, query: str, variables: dict[str, str] | None
) -> None:
    schedule = FakeSchedule()
    result = await execute(make_context(schedule=schedule), query, variables)

    [error] = result.errors
    assert error.extensions["status"] in (400, 422)
    assert error.extensions["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    assert schedule.calls == []


async def test_statuses_are_the_domain_enum(make_context: MakeContext) -> None:
    result = await execute(
        make_context(), '{ __type(name: "AppointmentStatus") { enumValues { name } } }'
    )
    names = [v["name"] for v in result.data["__type"]["enumValues"]]
    assert names == [
        "PENDING",
        "SCHEDULED",
        "CONFIRMED",
        "CHECKED_IN",
        "COMPLETED",
        "CANCELLED",
        "NO_SHOW",
        "FAILED",
    ]
