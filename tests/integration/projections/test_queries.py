"""The read view (``projections.queries.ReadView``) and the schedule's use cases on it,
against a view the projector built from real events: windows, order, statuses, the
narrowing of a patient's list, one appointment, and free slots laid on the Doctor
Service's grid (from the simulator) minus what the view holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from application.access import Requester
from application.commands import DoctorSchedule, FreeSlots, PatientAppointments
from application.errors import UnknownDoctor
from application.permissions import Principal, Role
from application.results import FreeSlot, ScheduleEntry
from application.schedule import Schedule
from domain.errors import InvalidScheduleWindow
from domain.status import AppointmentStatus
from projections.queries import ORDER, ReadView
from projections.read_view import READ_VIEW
from projections.view_store import ViewStore
from tests.integration.projections.conftest import Bed

S = AppointmentStatus
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2030, 1, 7)
SPRING_CHANGE = date(2030, 3, 31)  # a Sunday; the on-call doctor works every day
ON_CALL, HART = "doc-on-call", "doc-amelia-hart"
ANNA, BEN, CHIARA = "pat-anna-schmidt", "pat-ben-okafor", "pat-chiara-rossi"
LONG_AGO = datetime(2029, 12, 1, tzinfo=UTC)


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def ids(entries: list[ScheduleEntry]) -> list[str]:
    return [e.id for e in entries]


@pytest.fixture
async def planted(bed: Bed) -> Bed:
    """Monday's appointments (ids sort as their letter), projected into the view."""
    plan = [
        ("a", ON_CALL, ANNA, berlin(MONDAY, 9), 15, (S.SCHEDULED,)),
        ("b", ON_CALL, BEN, berlin(MONDAY, 9, 30), 30, ()),  # PENDING: holds its time
        ("c", ON_CALL, ANNA, berlin(MONDAY, 10), 15, (S.SCHEDULED, S.CANCELLED)),
        ("d", ON_CALL, CHIARA, berlin(MONDAY, 10, 15), 15, (S.FAILED,)),
        ("e", ON_CALL, ANNA, berlin(MONDAY, 10, 30), 15, (S.SCHEDULED, S.CHECKED_IN, S.COMPLETED)),
        ("f", HART, ANNA, berlin(MONDAY, 9), 30, (S.SCHEDULED, S.CONFIRMED)),
        ("g", ON_CALL, BEN, berlin(MONDAY + timedelta(days=1), 9), 15, (S.SCHEDULED,)),
    ]
    for appointment_id, doctor, patient, start, minutes, then in plan:
        await bed.book(
            start.astimezone(UTC),
            appointment_id=appointment_id,
            doctor_id=doctor,
            patient_id=patient,
            minutes=minutes,
            then=then,
        )
    await bed.projection().catch_up(asyncio.Event())
    await ViewStore(bed.database).index_view()  # as the projector does once caught up
    return bed


STAFF = Requester(Principal("frontdesk-1", Role.STAFF))


class Asked:
    """The schedule's use cases as the front desk asks them, and the view itself."""

    def __init__(self, bed: Bed, now: datetime) -> None:
        self.view = ReadView(bed.database)
        self.schedule = Schedule(
            self.view, bed.doctors, bed.settings, clock=lambda: now, doctors=bed.doctors
        )

    async def doctor_schedule(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> list[ScheduleEntry]:
        query = DoctorSchedule(doctor_id=doctor_id, start_from=start_from, start_to=start_to)
        return await self.schedule.doctor_schedule(query, STAFF)

    async def patient_appointments(
        self, patient_id: str, start_from: datetime, start_to: datetime
    ) -> list[ScheduleEntry]:
        query = PatientAppointments(patient_id=patient_id, start_from=start_from, start_to=start_to)
        return await self.schedule.patient_appointments(query, STAFF)

    async def free_slots(self, doctor_id: str, day: date) -> list[FreeSlot]:
        return await self.schedule.free_slots(FreeSlots(doctor_id=doctor_id, day=day), STAFF)


def queries(bed: Bed, now: datetime = LONG_AGO) -> Asked:
    return Asked(bed, now)


async def test_a_doctors_day_by_start_every_status_but_failed(planted: Bed) -> None:
    day = await queries(planted).doctor_schedule(
        ON_CALL, berlin(MONDAY, 0), berlin(MONDAY + timedelta(days=1), 0)
    )
    assert ids(day) == ["a", "b", "c", "e"]
    assert [e.status for e in day] == [S.SCHEDULED, S.PENDING, S.CANCELLED, S.COMPLETED]
    first = day[0]
    assert (first.patient_name, first.doctor_name) == ("Anna Schmidt", "Dr. Noah Fischer (on call)")
    assert first.start == berlin(MONDAY, 9)
    assert first.start.utcoffset() == timedelta(0)
    assert (first.day, first.end) == ("2030-01-07", berlin(MONDAY, 9, 15))


async def test_the_window_is_half_open(planted: Bed) -> None:
    found = await queries(planted).doctor_schedule(
        ON_CALL, berlin(MONDAY, 9, 30), berlin(MONDAY, 10)
    )
    assert ids(found) == ["b"]


async def test_a_patients_appointments_narrowed_to_one_doctor(planted: Bed) -> None:
    two_days = (berlin(MONDAY, 0), berlin(MONDAY + timedelta(days=2), 0))
    anna = await queries(planted).patient_appointments(ANNA, *two_days)
    assert ids(anna) == ["a", "f", "c", "e"]  # a and f start together: the id decides
    view = queries(planted).view
    with_on_call = await view.patient_appointments(ANNA, *two_days, doctor_id=ON_CALL)
    assert ids(with_on_call) == ["a", "c", "e"]
    assert await view.patient_appointments(ANNA, *two_days, doctor_id="x") == []


async def test_one_appointment_whatever_its_status(planted: Bed) -> None:
    failed = await queries(planted).view.appointment("d")
    assert failed is not None
    assert failed.status is S.FAILED
    assert await queries(planted).view.appointment("nope") is None


@pytest.mark.parametrize(
    ("start_from", "start_to"),
    [
        (berlin(MONDAY, 9).replace(tzinfo=None), berlin(MONDAY, 10)),
        (berlin(MONDAY, 10), berlin(MONDAY, 9)),
        (berlin(MONDAY, 0), berlin(MONDAY, 0) + timedelta(days=63)),
    ],
    ids=["naive", "inverted", "too wide"],
)
async def test_a_bad_window_is_refused(
    planted: Bed, start_from: datetime, start_to: datetime
) -> None:
    refusals = (InvalidScheduleWindow, ValidationError)  # the naive one: by the command model
    with pytest.raises(refusals):
        await queries(planted).doctor_schedule(ON_CALL, start_from, start_to)
    with pytest.raises(refusals):
        await queries(planted).patient_appointments(ANNA, start_from, start_to)


async def test_free_slots_are_the_grid_minus_active_appointments(planted: Bed) -> None:
    slots = await queries(planted).free_slots(ON_CALL, MONDAY)
    starts = [slot.start for slot in slots]
    # 07:00-21:00 every 15 minutes: 56 slots. a takes 09:00, b (PENDING, 30 minutes)
    # 09:30 and 09:45; cancelled c, failed d and completed e leave theirs free.
    assert len(slots) == 56 - 3
    for taken in (berlin(MONDAY, 9), berlin(MONDAY, 9, 30), berlin(MONDAY, 9, 45)):
        assert taken not in starts
    for free in (berlin(MONDAY, 9, 15), berlin(MONDAY, 10), berlin(MONDAY, 10, 15)):
        assert free in starts
    assert starts[0] == berlin(MONDAY, 7)
    assert slots[-1].end == berlin(MONDAY, 21)
    assert all(s.start.utcoffset() == timedelta(0) for s in slots)


async def test_slots_that_already_started_are_not_free(planted: Bed) -> None:
    slots = await queries(planted, now=berlin(MONDAY, 12, 5)).free_slots(ON_CALL, MONDAY)
    assert slots[0].start == berlin(MONDAY, 12, 15)
    assert len(slots) == 35  # 12:15 ... 20:45


async def test_free_slots_keep_the_wall_clock_on_a_daylight_saving_day(planted: Bed) -> None:
    slots = await queries(planted).free_slots(ON_CALL, SPRING_CHANGE)
    assert len(slots) == 56
    assert slots[0].start == datetime(2030, 3, 31, 5, 0, tzinfo=UTC)  # 07:00 CEST


async def test_a_day_off_has_no_free_slots(planted: Bed) -> None:
    assert await queries(planted).free_slots(HART, date(2030, 1, 6)) == []  # a Sunday


async def test_free_slots_of_an_unknown_doctor(planted: Bed) -> None:
    with pytest.raises(UnknownDoctor):
        await queries(planted).free_slots("doc-nobody", MONDAY)


@pytest.mark.parametrize(
    ("field", "value", "index"),
    [("doctor_id", ON_CALL, "doctor_start"), ("patient_id", ANNA, "patient_start")],
)
async def test_each_query_reads_one_range_of_its_index(
    planted: Bed, field: str, value: str, index: str
) -> None:
    """The queries send only the owner and the start range (projections/queries.py says
    why), a shape the planner answers from its index by itself: only the window's rows of
    that doctor or patient are looked at, fewer than the 7 planted (FAILED ones included:
    those are left out after the read)."""
    collection = planted.database[READ_VIEW]
    window = {"$gte": berlin(MONDAY, 0), "$lt": berlin(MONDAY, 12)}
    plan = await collection.find({field: value, "start": window}).sort(ORDER).explain()
    assert index in str(plan["queryPlanner"]["winningPlan"])
    stats = plan["executionStats"]
    assert stats["totalDocsExamined"] == stats["nReturned"] < 7, stats
