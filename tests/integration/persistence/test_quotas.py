"""What the quotas ask of the store, against the real wire-protocol server: the count of a
patient's active upcoming appointments (``Quotas.over_patient_cap``, through the
repository port's ``find``) reads one range of the ``patient_start`` index and counts
exactly the active ones from now on; and the history comes in seq pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from application.access import Requester
from application.commands import Book, NewAppointment
from application.errors import PatientCapReached
from application.permissions import Principal, Role
from application.ports import AppointmentFilter
from application.quotas import Quotas
from config import load_settings
from domain.status import ACTIVE_STATUSES, AppointmentStatus
from persistence.store import LIST_ORDER, find_filter, index_for
from tests.fakes import plant_into
from tests.integration.persistence.conftest import Database

S = AppointmentStatus
NOW = datetime(2030, 1, 8, 12, 0, tzinfo=UTC)
CAP = 3
ANNA = Requester(Principal("pat-anna", Role.PATIENT), None)


async def plant(database: Database, patient: str, hours: int, status: S, doctor: str) -> None:
    await plant_into(
        database.store.commit,
        patient_id=patient,
        doctor_id=doctor,
        start=NOW + timedelta(hours=hours),
        status=status,
        held=False,
    )


def index_names(plan: dict[str, Any]) -> set[str]:
    """The indexes a query plan scans (as test_queries.py reads them)."""
    names = {plan["indexName"]} if plan.get("stage") == "IXSCAN" else set()
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), dict):
            names |= index_names(plan[key])
    for child in plan.get("inputStages", []):
        names |= index_names(child)
    return names


def booking(key: str) -> Book:
    new = NewAppointment(
        patient_id="pat-anna",
        doctor_id="d-9",
        start=NOW + timedelta(days=9),
        duration_minutes=15,
    )
    return Book(appointment=new, idempotency_key=key)


@pytest.fixture
def quotas() -> Quotas:
    return Quotas.of(load_settings(patient_max_active_appointments=CAP))


async def test_only_the_patients_active_upcoming_appointments_count(
    database: Database, quotas: Quotas
) -> None:
    # Two active upcoming ones, and what must not count: begun, inactive, someone else's.
    await plant(database, "pat-anna", 2, S.SCHEDULED, "d-1")
    await plant(database, "pat-anna", 30, S.PENDING, "d-2")
    await plant(database, "pat-anna", -1, S.CONFIRMED, "d-1")  # began an hour ago
    for n, status in enumerate([S.CANCELLED, S.COMPLETED, S.NO_SHOW, S.FAILED]):
        await plant(database, "pat-anna", 40 + n, status, "d-3")
    for n in range(CAP):
        await plant(database, "pat-ben", 50 + n, S.SCHEDULED, "d-4")

    assert await quotas.over_patient_cap(database.store, booking("k-1"), ANNA, NOW) is False

    await plant(database, "pat-anna", 60, S.CHECKED_IN, "d-5")  # the third: the cap
    with pytest.raises(PatientCapReached):
        await quotas.over_patient_cap(database.store, booking("k-2"), ANNA, NOW)


async def test_the_count_reads_one_range_of_the_patient_index(database: Database) -> None:
    for n in range(4):
        await plant(database, "pat-anna", n, S.SCHEDULED, "d-1")
    where = AppointmentFilter(patient_id="pat-anna", statuses=ACTIVE_STATUSES, start_from=NOW)

    assert index_for(where) == "patient_start"
    cursor = database.raw.appointments.find(find_filter(where, None), hint="patient_start")
    plan = await cursor.sort(LIST_ORDER).limit(CAP).explain()
    assert "patient_start" in index_names(plan["queryPlanner"]["winningPlan"]), plan
    assert len(await database.store.find(where, after=None, limit=CAP)) == CAP


async def test_the_history_comes_in_seq_pages(database: Database) -> None:
    await plant_into(
        database.store.commit,
        appointment_id="a-1",
        patient_id="pat-anna",
        doctor_id="d-1",
        start=NOW,
        status=S.COMPLETED,  # requested, scheduled, checked in, completed
        held=False,
    )

    assert [e.seq for e in await database.store.history("a-1")] == [1, 2, 3, 4]
    assert [e.seq for e in await database.store.history("a-1", limit=3)] == [1, 2, 3]
    assert [e.seq for e in await database.store.history("a-1", after_seq=1, limit=2)] == [2, 3]
    assert [e.seq for e in await database.store.history("a-1", after_seq=3, limit=2)] == [4]
    assert await database.store.history("a-1", after_seq=4) == []
    assert await database.store.history("a-2") == []
