"""The store's list query against the real wire-protocol server: every filter, the
(start, id) order, and keyset pages that neither skip nor repeat an appointment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.events import event_id_for
from domain.model import Appointment
from domain.status import AppointmentStatus
from persistence.store import LIST_ORDER, AppointmentFilter, find_filter, index_for
from tests.fakes import plant_into
from tests.integration.persistence.conftest import Database

S = AppointmentStatus
DAY = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
PLUS_ONE = timezone(timedelta(hours=1))

# (id, patient, doctor, minutes after DAY, status). Two pairs share a start, so the id
# must break the tie; ids are chosen so that id order differs from insertion order.
ROWS: list[tuple[str, str, str, int, AppointmentStatus]] = [
    ("a-07", "p-1", "d-1", 0, S.SCHEDULED),
    ("a-03", "p-2", "d-2", 0, S.CONFIRMED),
    ("a-05", "p-1", "d-2", 30, S.PENDING),
    ("a-01", "p-2", "d-1", 60, S.CANCELLED),
    ("a-09", "p-3", "d-3", 60, S.SCHEDULED),
    ("a-02", "p-1", "d-1", 24 * 60, S.COMPLETED),
    ("a-08", "p-3", "d-2", 2 * 24 * 60, S.SCHEDULED),
    ("a-04", "p-2", "d-3", 3 * 24 * 60, S.NO_SHOW),
    ("a-06", "p-1", "d-3", 3 * 24 * 60 + 15, S.CONFIRMED),
]


async def _plant(database: Database) -> list[Appointment]:
    stored = [
        await plant_into(
            database.store.commit,
            appointment_id=appointment_id,
            patient_id=patient,
            doctor_id=doctor,
            start=DAY + timedelta(minutes=minutes),
            status=status,
            held=False,
        )
        for appointment_id, patient, doctor, minutes, status in ROWS
    ]
    return sorted(stored, key=lambda a: (a.start, a.id))


@pytest.fixture
async def planted(database: Database) -> list[Appointment]:
    return await _plant(database)


def ids(appointments: list[Appointment]) -> list[str]:
    return [a.id for a in appointments]


async def test_without_filters_everything_in_start_then_id_order(
    database: Database, planted: list[Appointment]
) -> None:
    found = await database.store.find(AppointmentFilter(), after=None, limit=100)
    assert found == planted
    assert ids(found)[:2] == ["a-03", "a-07"]  # same start: the id decides


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (AppointmentFilter(doctor_id="d-1"), ["a-07", "a-01", "a-02"]),
        (AppointmentFilter(patient_id="p-1"), ["a-07", "a-05", "a-02", "a-06"]),
        (AppointmentFilter(statuses=frozenset({S.SCHEDULED})), ["a-07", "a-09", "a-08"]),
        (
            AppointmentFilter(statuses=frozenset({S.CONFIRMED, S.NO_SHOW})),
            ["a-03", "a-04", "a-06"],
        ),
        (AppointmentFilter(doctor_id="d-2", patient_id="p-1"), ["a-05"]),
        (AppointmentFilter(doctor_id="d-3", statuses=frozenset({S.SCHEDULED})), ["a-09"]),
        (AppointmentFilter(doctor_id="d-1", patient_id="p-3"), []),
        (AppointmentFilter(doctor_id="nobody"), []),
    ],
)
async def test_filters_select_exactly_the_matching_ones(
    database: Database, planted: list[Appointment], where: AppointmentFilter, expected: list[str]
) -> None:
    found = await database.store.find(where, after=None, limit=100)
    assert ids(found) == expected
    matching = [
        a
        for a in planted
        if (where.doctor_id is None or a.doctor_id == where.doctor_id)
        and (where.patient_id is None or a.patient_id == where.patient_id)
        and (not where.statuses or a.status in where.statuses)
    ]
    assert found == matching


async def test_the_start_range_is_half_open(database: Database, planted: list[Appointment]) -> None:
    start_to = DAY + timedelta(minutes=60)  # a-01 and a-09 start exactly here: excluded
    found = await database.store.find(
        AppointmentFilter(start_from=DAY, start_to=start_to), after=None, limit=100
    )
    assert ids(found) == ["a-03", "a-07", "a-05"]

    from_the_hour = await database.store.find(
        AppointmentFilter(start_from=start_to, start_to=DAY + timedelta(days=1)),
        after=None,
        limit=100,
    )
    assert ids(from_the_hour) == ["a-01", "a-09"]

    # The same instants written with another offset select the same appointments.
    shifted = await database.store.find(
        AppointmentFilter(
            start_from=(DAY + timedelta(hours=1)).astimezone(PLUS_ONE),
            start_to=(DAY + timedelta(days=2)).astimezone(PLUS_ONE),
        ),
        after=None,
        limit=100,
    )
    assert ids(shifted) == ["a-01", "a-09", "a-02"]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 8, 9, 10])
async def test_keyset_pages_cover_everything_once_in_order(
    database: Database, planted: list[Appointment], size: int
) -> None:
    seen: list[Appointment] = []
    after = None
    for _ in range(len(planted) + 1):
        page = await database.store.find(AppointmentFilter(), after=after, limit=size)
        seen.extend(page)
        if len(page) < size:
            break
        after = (page[-1].start, page[-1].id)
    assert seen == planted


async def test_a_cursor_inside_a_tie_continues_with_the_tied_ones(
    database: Database, planted: list[Appointment]
) -> None:
    first = planted[0]  # a-03, tied at DAY with a-07
    rest = await database.store.find(AppointmentFilter(), after=(first.start, first.id), limit=100)
    assert rest == planted[1:]
    assert rest[0].id == "a-07"


async def test_a_cursor_combines_with_filters_and_the_range(
    database: Database, planted: list[Appointment]
) -> None:
    where = AppointmentFilter(patient_id="p-1", start_from=DAY, start_to=DAY + timedelta(days=5))
    first = await database.store.find(where, after=None, limit=2)
    assert ids(first) == ["a-07", "a-05"]
    second = await database.store.find(where, after=(first[-1].start, first[-1].id), limit=2)
    assert ids(second) == ["a-02", "a-06"]
    third = await database.store.find(where, after=(second[-1].start, second[-1].id), limit=2)
    assert third == []


async def test_an_event_is_found_by_its_id(database: Database, planted: list[Appointment]) -> None:
    event = await database.store.event(event_id_for("a-02/COMPLETED"))  # as planted
    assert event is not None
    assert (event.appointment_id, event.seq) == ("a-02", 4)
    assert await database.store.event("a-02/nothing") is None


def _index_names(plan: dict[str, Any]) -> set[str]:
    names = {plan["indexName"]} if plan.get("stage") == "IXSCAN" else set()
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), dict):
            names |= _index_names(plan[key])
    for child in plan.get("inputStages", []):
        names |= _index_names(child)
    return names


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (AppointmentFilter(doctor_id="d-1"), "doctor_start"),
        (AppointmentFilter(patient_id="p-1", start_from=DAY), "patient_start"),
        (AppointmentFilter(statuses=frozenset({S.SCHEDULED, S.CONFIRMED})), "status_start"),
    ],
)
async def test_a_filtered_page_reads_one_index_range(
    database: Database, planted: list[Appointment], where: AppointmentFilter, index: str
) -> None:
    for after in (None, (planted[0].start, planted[0].id)):
        assert index_for(where) == index
        cursor = database.raw.appointments.find(find_filter(where, after), hint=index)
        plan = await cursor.sort(LIST_ORDER).limit(3).explain()
        assert index in _index_names(plan["queryPlanner"]["winningPlan"]), plan
