"""A page of appointments (``Reads.page``): filters, (start, id) order, keyset cursors that
never skip or repeat, the limit, and a patient's or doctor's own scope ANDed with the
filters, so a filter naming someone else selects nothing."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from application.access import Requester
from application.commands import ListAppointments
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import (
    ADMIN,
    DOCTOR,
    LATER,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    STAFF,
    THE_DOCTOR,
    THE_PATIENT,
)

S = AppointmentStatus
Named = dict[str, Appointment]

# name: (patient, doctor, hours after LATER, status). a, b and f start at the same instant.
PLANTED: dict[str, tuple[str, str, int, AppointmentStatus]] = {
    "d": (OTHER_PATIENT, OTHER_DOCTOR, 2, S.SCHEDULED),
    "a": (PATIENT, DOCTOR, 0, S.SCHEDULED),
    "e": (PATIENT, DOCTOR, 3, S.COMPLETED),
    "b": (PATIENT, OTHER_DOCTOR, 0, S.CONFIRMED),
    "c": (OTHER_PATIENT, DOCTOR, 1, S.CANCELLED),
    "f": ("pat-cem-arslan", "doc-lee", 0, S.SCHEDULED),
}


@pytest.fixture
async def named(world: World) -> Named:
    found: Named = {}
    for name, (patient_id, doctor_id, hours, status) in PLANTED.items():
        found[name] = await world.repository.plant(
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=LATER + timedelta(hours=hours),
            status=status,
        )
    return found


def in_order(named: Named, names: str) -> list[str]:
    chosen = sorted((named[n] for n in names), key=lambda a: (a.start, a.id))
    return [a.id for a in chosen]


async def everything(world: World, who: Requester, **query: Any) -> list[str]:
    """Every page of the query, following the cursors; each page checked on the way."""
    found: list[str] = []
    cursor: str | None = query.pop("cursor", None)
    limit = query.pop("limit", 100)
    for _ in range(len(PLANTED) + 1):
        page = await world.services.reads.page(
            ListAppointments(**query, limit=limit, cursor=cursor), who
        )
        assert len(page.items) <= limit
        found += [a.id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return found
        assert len(page.items) == limit  # only a full page says more follows
    raise AssertionError("the cursors never ended")


async def test_a_page_is_in_start_then_id_order(world: World, named: Named) -> None:
    page = await world.services.reads.page(ListAppointments(), STAFF)

    assert [a.id for a in page.items] == in_order(named, "abcdef")
    assert [a.id for a in page.items[:3]] == sorted(named[n].id for n in "abf")
    assert page.next_cursor is None


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 6, 100])
async def test_pages_follow_each_other_without_skip_or_repeat(
    world: World, named: Named, limit: int
) -> None:
    pages = 0
    cursor: str | None = None
    seen: list[str] = []
    while True:
        page = await world.services.reads.page(ListAppointments(limit=limit, cursor=cursor), ADMIN)
        pages += 1
        seen += [a.id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == in_order(named, "abcdef")
    assert pages == max(1, math.ceil(len(PLANTED) / limit))


async def test_a_cursor_holds_its_place_when_an_earlier_appointment_is_added(
    world: World, named: Named
) -> None:
    first = await world.services.reads.page(ListAppointments(limit=3), STAFF)
    await world.repository.plant(start=LATER - timedelta(hours=5), doctor_id="doc-new")

    rest = await everything(world, STAFF, cursor=first.next_cursor)

    assert [a.id for a in first.items] + rest == in_order(named, "abcdef")


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"doctor_id": DOCTOR}, "ace"),
        ({"patient_id": PATIENT}, "abe"),
        ({"status": [S.SCHEDULED]}, "adf"),
        ({"status": [S.CANCELLED, S.COMPLETED]}, "ce"),
        ({"start_from": LATER + timedelta(hours=1)}, "cde"),
        ({"start_to": LATER + timedelta(hours=2)}, "abcf"),
        ({"start_from": LATER + timedelta(hours=1), "start_to": LATER + timedelta(hours=3)}, "cd"),
        ({"doctor_id": DOCTOR, "status": [S.SCHEDULED]}, "a"),
        ({"doctor_id": "doc-nobody"}, ""),
    ],
    ids=[
        "doctor",
        "patient",
        "status",
        "statuses",
        "from, inclusive",
        "to, exclusive",
        "from and to",
        "doctor and status",
        "nobody's",
    ],
)
@pytest.mark.parametrize("limit", [1, 100], ids=["pages of 1", "one page"])
async def test_filters_select_what_they_name_across_pages(
    world: World, named: Named, query: dict[str, Any], names: str, limit: int
) -> None:
    assert await everything(world, STAFF, **query, limit=limit) == in_order(named, names)


@pytest.mark.parametrize(
    ("who", "query", "names"),
    [
        (THE_PATIENT, {}, "abe"),
        (THE_PATIENT, {"doctor_id": OTHER_DOCTOR}, "b"),
        (THE_PATIENT, {"patient_id": PATIENT}, "abe"),
        (THE_PATIENT, {"patient_id": OTHER_PATIENT}, ""),
        (THE_DOCTOR, {}, "ace"),
        (THE_DOCTOR, {"patient_id": OTHER_PATIENT}, "c"),
        (THE_DOCTOR, {"doctor_id": DOCTOR, "status": [S.SCHEDULED]}, "a"),
        (THE_DOCTOR, {"doctor_id": OTHER_DOCTOR}, ""),
        (ADMIN, {}, "abcdef"),
        (STAFF, {"patient_id": OTHER_PATIENT}, "cd"),
    ],
    ids=[
        "patient: own",
        "patient: own with a doctor",
        "patient: naming themself",
        "patient: naming another",
        "doctor: own",
        "doctor: own with a patient",
        "doctor: naming themself",
        "doctor: naming another",
        "admin: all",
        "staff: anyone's",
    ],
)
async def test_patients_and_doctors_list_only_their_own(
    world: World, named: Named, who: Requester, query: dict[str, Any], names: str
) -> None:
    assert await everything(world, who, **query, limit=1) == in_order(named, names)


async def test_a_filter_naming_someone_else_is_an_empty_last_page(
    world: World, named: Named
) -> None:
    page = await world.services.reads.page(ListAppointments(patient_id=OTHER_PATIENT), THE_PATIENT)

    assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 101},
        {"cursor": "not-a-cursor"},
        {"from": "2030-01-08T09:00:00"},
        {"from": "2030-01-08T10:00:00Z", "to": "2030-01-08T09:00:00Z"},
        {"doctor": DOCTOR},
    ],
    ids=["limit 0", "limit 101", "foreign cursor", "naive from", "from after to", "misspelt"],
)
def test_a_query_the_model_refuses_never_reaches_the_use_case(query: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ListAppointments.model_validate(query)
