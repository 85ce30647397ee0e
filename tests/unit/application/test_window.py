"""The window of a schedule query: offsets required (by the command model), from before to
and at most N days (by the use case)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from application.commands import Window
from application.schedule import check_window
from domain.errors import DomainError, InvalidScheduleWindow

PLUS_TWO = timezone(timedelta(hours=2))
FROM = datetime(2030, 1, 7, 10, 0, tzinfo=PLUS_TWO)


def window(start_from: datetime, start_to: datetime) -> Window:
    return Window(start_from=start_from, start_to=start_to)


def test_a_good_window_comes_back_in_utc() -> None:
    lower, upper = check_window(window(FROM, FROM + timedelta(days=7)), 62)
    assert lower == datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    assert lower.tzinfo is UTC
    assert upper - lower == timedelta(days=7)
    assert upper.tzinfo is UTC


def test_exactly_the_widest_window_is_allowed() -> None:
    check_window(window(FROM, FROM + timedelta(days=62)), 62)


@pytest.mark.parametrize(
    ("start_from", "start_to"),
    [
        (FROM.replace(tzinfo=None), FROM + timedelta(days=1)),
        (FROM, (FROM + timedelta(days=1)).replace(tzinfo=None)),
    ],
    ids=["naive from", "naive to"],
)
def test_a_time_without_an_offset_is_no_window(start_from: datetime, start_to: datetime) -> None:
    with pytest.raises(ValidationError, match="timezone"):
        window(start_from, start_to)


@pytest.mark.parametrize(
    ("start_from", "start_to", "detail"),
    [
        (FROM, FROM, "before"),
        (FROM, FROM - timedelta(minutes=1), "before"),
        (FROM, FROM + timedelta(days=62, seconds=1), "at most 62 days"),
    ],
    ids=["empty", "inverted", "too wide"],
)
def test_a_bad_window_is_refused(start_from: datetime, start_to: datetime, detail: str) -> None:
    with pytest.raises(InvalidScheduleWindow, match=detail) as refused:
        check_window(window(start_from, start_to), 62)
    assert isinstance(refused.value, DomainError)
    assert refused.value.code == "invalid-schedule-window"


def test_an_instant_beyond_the_calendar_is_refused() -> None:
    edge = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(ValidationError, match="out of range"):
        window(edge - timedelta(days=1), edge)
