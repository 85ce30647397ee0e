"""The doctor's days, pure: which documents a window reads, which days an appointment was
on, and an entry's round trip to the schedule's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.status import AppointmentStatus
from projections.days import (
    day_id,
    doctor_range,
    entry,
    key,
    schedule_entry,
    unpack,
    visited,
    window_days,
)
from projections.fold import StoredEvent, ViewRow

MONDAY = datetime(2030, 1, 7, tzinfo=UTC)


def event(seq: int, **after: object) -> StoredEvent:
    return StoredEvent("a-1", seq, MONDAY, after)


def row(version: int, start: datetime, **values: object) -> ViewRow:
    return ViewRow(
        id="a-1",
        version=version,
        patient_id="pat-1",
        doctor_id="doc-1",
        day=start.date().isoformat(),
        start=start,
        end=start + timedelta(minutes=15),
        duration_minutes=15,
        timezone="Europe/Berlin",
        status=AppointmentStatus.SCHEDULED,
        reason=None,
        updated_at=MONDAY,
        **values,  # type: ignore[arg-type]
    )


def test_a_window_reads_one_document_per_utc_date_it_touches() -> None:
    assert window_days("d", MONDAY, MONDAY + timedelta(days=7)) == [
        f"d/2030-01-{n:02d}" for n in range(7, 14)
    ]
    berlin_week = (MONDAY - timedelta(hours=1), MONDAY + timedelta(days=7, hours=-1))
    assert len(window_days("d", *berlin_week)) == 8
    assert window_days("d", MONDAY, MONDAY + timedelta(minutes=1)) == ["d/2030-01-07"]


def test_a_doctors_range_holds_their_days_and_no_one_elses() -> None:
    bounds = doctor_range("doc-1")
    for inside in (day_id("doc-1", MONDAY), "doc-1/9999-12-31"):
        assert bounds["$gte"] <= inside < bounds["$lt"]
    for outside in (day_id("doc-10", MONDAY), day_id("doc-0", MONDAY), "doc-1"):
        assert not bounds["$gte"] <= outside < bounds["$lt"]


def test_the_days_visited_from_the_stored_row_through_every_new_version() -> None:
    tuesday, friday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=4)
    events = [
        event(1, doctor_id="doc-1", start=MONDAY, status="PENDING"),
        event(2, status="SCHEDULED"),
        event(3, start=tuesday),
        event(4, start=friday),
    ]
    assert visited(None, events) == {"doc-1/2030-01-07", "doc-1/2030-01-08", "doc-1/2030-01-11"}
    # From a stored row at version 3 (Tuesday): the days before it are not its business.
    assert visited(row(3, tuesday), events) == {"doc-1/2030-01-08", "doc-1/2030-01-11"}
    assert visited(row(4, friday), events) == {"doc-1/2030-01-11"}


def test_an_entry_is_the_rows_schedule_entry_again() -> None:
    stored = row(3, MONDAY, patient_name="Ann", doctor_name="Dr. B", doctor_specialty="gp")
    packed = entry(stored)
    assert set(packed) == {"v", "x"}  # the version for the guard, the rest in one string
    found = schedule_entry("doc-1", "a-1", unpack(packed))
    assert found.model_dump() == {
        **{k: v for k, v in stored.to_document().items() if k not in {"_id", "version"}},
        "id": "a-1",
        "status": AppointmentStatus.SCHEDULED,
    }
    assert schedule_entry("doc-1", "a-1", unpack(entry(row(3, MONDAY)))).patient_name is None


def test_instants_are_kept_to_the_millisecond_as_mongodb_keeps_them() -> None:
    start = MONDAY + timedelta(microseconds=123_999)
    live = unpack(entry(row(1, start)))
    assert live.start == MONDAY + timedelta(milliseconds=123)
    assert live.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize("bad", ["a.b", "$a"])
def test_an_id_that_would_make_a_dotted_path_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot name a field"):
        key(bad)
