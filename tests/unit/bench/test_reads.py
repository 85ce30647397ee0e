"""The synthetic read view rows, the query plan's stages and the random windows."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bench.reads import (
    PER_DAY,
    Window,
    plan_stages,
    synthetic_rows,
    window_picker,
    working_starts,
)
from projections.fold import ViewRow
from projections.queries import schedule_filter
from projections.read_view import READ_VIEW_INDEXES
from simulators.seed_data import DOCTORS, ON_CALL_DOCTOR_ID, PATIENTS

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = next(d for d in DOCTORS if d.id != ON_CALL_DOCTOR_ID)
ON_CALL = next(d for d in DOCTORS if d.id == ON_CALL_DOCTOR_ID)
MONDAY, SATURDAY = date(2025, 3, 3), date(2025, 3, 8)


def test_an_office_day_has_32_quarter_hours_around_lunch() -> None:
    starts = working_starts(OFFICE, MONDAY)
    assert len(starts) == 32
    local = [s.astimezone(BERLIN).strftime("%H:%M") for s in starts]
    assert local[0] == "08:00"
    assert local[15] == "11:45"
    assert local[16] == "13:00"
    assert local[-1] == "16:45"
    assert all(s.tzinfo is UTC for s in starts)


def test_office_doctors_have_no_weekend_and_the_on_call_doctor_does() -> None:
    assert working_starts(OFFICE, SATURDAY) == []
    assert len(working_starts(ON_CALL, SATURDAY)) == 56  # 07:00-21:00


def test_synthetic_rows_are_the_projectors_shape_on_past_working_days() -> None:
    rows = list(synthetic_rows(DOCTORS, PATIENTS, 2_000, MONDAY, BERLIN, random.Random(1)))
    assert len(rows) == 2_000
    assert len({r.id for r in rows}) == 2_000
    assert max(r.start for r in rows).astimezone(BERLIN).date() == MONDAY
    per_doctor_day = Counter((r.doctor_id, r.day) for r in rows)
    full_days = [
        n for (doctor_id, day), n in per_doctor_day.items() if day != min(r.day for r in rows)
    ]
    low, high = PER_DAY
    assert all(n <= high for n in full_days)
    assert all(n >= min(low, 32) for n in full_days)
    for row in rows[:50]:
        document = row.to_document()
        assert set(document) == {"_id"} | {f.name for f in dataclasses.fields(ViewRow)} - {"id"}
        assert document["day"] == row.start.astimezone(BERLIN).date().isoformat()
        assert document["end"] - document["start"] == timedelta(minutes=15)
        assert document["patient_name"] in {p.name for p in PATIENTS}
        assert isinstance(document["status"], str)


def test_the_schedule_filter_is_one_range_of_the_doctor_start_index() -> None:
    """Any other condition makes the local MongoDB stand-in scan the collection."""
    lower, upper = datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC)
    [index] = [i for i in READ_VIEW_INDEXES if i.document["name"] == "doctor_start"]
    assert schedule_filter("doc-on-call", lower, upper) == {
        "doctor_id": "doc-on-call",
        "start": {"$gte": lower, "$lt": upper},
    }
    assert list(schedule_filter("d", lower, upper)) == list(index.document["key"])


def test_plan_stages_from_the_top_with_the_index_name() -> None:
    plan = {
        "stage": "SORT",
        "inputStage": {
            "stage": "FETCH",
            "inputStage": {"stage": "IXSCAN", "indexName": "doctor_start"},
        },
    }
    assert plan_stages(plan) == ["SORT", "FETCH", "IXSCAN(doctor_start)"]
    assert plan_stages({"stage": "COLLSCAN"}) == ["COLLSCAN"]
    assert plan_stages({"stage": "OR", "inputStages": [{"stage": "IXSCAN"}]}) == ["OR", "IXSCAN"]


async def test_windows_stay_within_the_filled_days_and_start_at_midnight() -> None:
    first, last = date(2025, 3, 1), date(2025, 3, 31)  # DST begins on 30 March
    pick = window_picker(DOCTORS, first, last, 7, BERLIN, random.Random(3))
    for _ in range(200):
        window = await pick()
        lower, upper = window.lower.astimezone(BERLIN), window.upper.astimezone(BERLIN)
        assert lower.time().hour == 0
        assert upper.time().hour == 0
        assert (upper.date() - lower.date()).days == 7
        assert first <= lower.date()
        assert upper.date() <= last + timedelta(days=1)
        assert window.lower.tzinfo is UTC


async def test_one_day_windows_fall_on_days_the_doctor_works() -> None:
    pick = window_picker([OFFICE], date(2025, 3, 1), date(2025, 3, 31), 1, BERLIN, random.Random(4))
    for _ in range(100):
        window = await pick()
        assert window.lower.astimezone(BERLIN).weekday() < 5


def test_a_range_too_short_for_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="7-day"):
        window_picker(DOCTORS, date(2025, 3, 1), date(2025, 3, 3), 7, BERLIN, random.Random(5))


def test_window_parameters_carry_an_offset() -> None:
    window = Window(
        "doc-on-call", datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 4, tzinfo=UTC)
    )
    assert window.params() == {
        "from": "2025-03-03T00:00:00+00:00",
        "to": "2025-03-04T00:00:00+00:00",
    }
