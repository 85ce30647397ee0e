"""The doctor's days (``projections.days``) against the real event store: a schedule read
from them answers exactly what the rows answer, for any window, aligned on days or not;
a rescheduled appointment leaves its old day and no late write brings it back; an older
entry never replaces a newer one; a rebuild, and a projector finding rows but no days,
fill them as the projector did event by event."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from application.results import ScheduleEntry
from domain.events import EventContext
from domain.model import Appointment, reschedule
from domain.status import AppointmentStatus
from projections.days import row_day, unpack
from projections.projector import rebuild
from projections.queries import ORDER, ReadView, schedule_filter
from projections.read_view import DOCTOR_DAYS, READ_VIEW
from tests.integration.projections.conftest import Bed, now
from tests.waiting import eventually_async as eventually

S = AppointmentStatus
ON_CALL, HART = "doc-on-call", "doc-amelia-hart"
MONDAY = datetime(2030, 1, 7, tzinfo=UTC)  # UTC midnight; 01:00 in Berlin


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


async def moved(bed: Bed, state: Appointment, start: datetime) -> Appointment:
    """The appointment rescheduled to ``start`` through the real unit of work."""
    return await bed.store.commit(
        reschedule(
            state,
            start=start,
            duration_minutes=state.duration_minutes,
            hold_id=f"hold-{state.version}",
            invoice_id=None,
            event_id=f"{state.id}/{state.version + 1}",
            now=now(),
            context=EventContext(actor="staff:s-1"),
        )
    )


async def from_rows(bed: Bed, doctor_id: str, lower: datetime, upper: datetime) -> list[Any]:
    """The schedule as the row query answered it before the days existed."""
    cursor = bed.database[READ_VIEW].find(schedule_filter(doctor_id, lower, upper)).sort(ORDER)
    return [raw["_id"] async for raw in cursor if raw["status"] != S.FAILED.value]


def ids(entries: list[ScheduleEntry]) -> list[str]:
    return [e.id for e in entries]


async def days(bed: Bed) -> dict[str, dict[str, Any]]:
    return {raw["_id"]: raw async for raw in bed.database[DOCTOR_DAYS].find()}


async def live(bed: Bed) -> dict[str, dict[str, Any]]:
    """Every live entry (not a tombstone) of every day, by day and appointment id."""
    return {
        day: {i: value for i, value in raw["entries"].items() if "x" in value}
        for day, raw in (await days(bed)).items()
    }


async def test_a_schedule_from_the_days_is_what_the_rows_answer_in_any_window(bed: Bed) -> None:
    plan = [
        (ON_CALL, at(0, 8), (S.SCHEDULED, S.CANCELLED)),
        (ON_CALL, at(0, 8), (S.SCHEDULED, S.CONFIRMED)),  # same start: the id decides
        (ON_CALL, at(0, 9), (S.FAILED,)),
        (ON_CALL, at(0, 23, 15), ()),  # 00:15 in Berlin, another clinic day
        (ON_CALL, at(1, 0), (S.SCHEDULED, S.CANCELLED)),
        (ON_CALL, at(1, 0, 15), (S.SCHEDULED, S.CHECKED_IN, S.COMPLETED)),
        (ON_CALL, at(3, 12), (S.SCHEDULED,)),
        (ON_CALL, at(7, 0), (S.SCHEDULED,)),  # the next Monday, UTC midnight
        (HART, at(0, 8), (S.SCHEDULED,)),
    ]
    for doctor, start, then in plan:
        await bed.book(start, doctor_id=doctor, then=then)
    await bed.projection().catch_up(asyncio.Event())
    view = ReadView(bed.database)
    windows = [
        (at(0, 0), at(7, 0)),  # a UTC week
        (at(-1, 23), at(6, 23)),  # a Berlin week: 8 UTC days
        (at(0, 8), at(0, 8, 1)),  # minutes
        (at(0, 8, 1), at(1, 0, 15)),  # across midnight, half open at both ends
        (at(0, 23, 15), at(7, 0, 1)),
        (at(4, 0), at(6, 0)),  # nothing
    ]
    for lower, upper in windows:
        found = await view.doctor_schedule(ON_CALL, lower, upper)
        assert ids(found) == await from_rows(bed, ON_CALL, lower, upper), (lower, upper)
    week = await view.doctor_schedule(ON_CALL, at(-1, 23), at(6, 23))
    assert len(week) == 6  # FAILED never shows; the next Monday is outside
    rows = {r["_id"]: r async for r in bed.database[READ_VIEW].find()}
    for entry in week:  # every field as the row has it, and as the row's entry says it
        row = rows[entry.id]
        assert entry.model_dump() == {
            **{k: v for k, v in row.items() if k not in {"_id", "version"}},
            "id": entry.id,
            "status": S(row["status"]),
        }
        as_before = ScheduleEntry(**{k: v for k, v in row.items() if k != "_id"}, id=row["_id"])
        assert entry.model_dump_json() == as_before.model_dump_json()
    busy = await view.busy(ON_CALL, at(0, 0), at(2, 0))
    assert sorted(busy) == [(at(0, 8), at(0, 8, 15)), (at(0, 23, 15), at(0, 23, 30))]


async def test_a_rescheduled_appointment_leaves_its_old_day_for_good(bed: Bed) -> None:
    view = ReadView(bed.database)
    projection = bed.projection()
    booked = await bed.book(at(0, 9))
    await projection.project([booked.id])
    assert ids(await view.doctor_schedule(ON_CALL, at(0, 0), at(1, 0))) == [booked.id]

    wednesday = await moved(bed, booked, at(2, 9))
    friday = await moved(bed, wednesday, at(4, 9))  # two moves in one batch
    await projection.project([booked.id])
    for day in (0, 2):
        assert await view.doctor_schedule(ON_CALL, at(day, 0), at(day + 1, 0)) == []
        assert await view.busy(ON_CALL, at(day, 0), at(day + 1, 0)) == []
    assert ids(await view.doctor_schedule(ON_CALL, at(0, 0), at(7, 0))) == [booked.id]
    stored = await days(bed)
    for day in (0, 2):  # each day it left holds its tombstone
        assert stored[f"{ON_CALL}/{at(day, 0).date()}"]["entries"][booked.id] == {
            "v": friday.version
        }

    # A slow projector writing an older version later (Monday's or Wednesday's row)
    # brings it back nowhere, as a row or as an entry.
    store = bed.view_store()
    current = (await store.rows([booked.id]))[booked.id]
    for version, start in ((booked.version, at(0, 9)), (wednesday.version, at(2, 9))):
        old = replace(current, version=version, start=start, end=start + timedelta(minutes=15))
        await store.write([old], existing=[booked.id])
        await store.write([old], existing=())
    assert ids(await view.doctor_schedule(ON_CALL, at(0, 0), at(7, 0))) == [booked.id]
    assert (await view.doctor_schedule(ON_CALL, at(0, 0), at(7, 0)))[0].start == at(4, 9)


async def test_an_entry_moves_only_forward(bed: Bed) -> None:
    projection = bed.projection()
    first = await bed.book(at(0, 9), then=(S.SCHEDULED, S.CONFIRMED))
    second = await bed.book(at(0, 10))
    await projection.project([first.id, second.id])
    before = await days(bed)

    store = bed.view_store()
    current = (await store.rows([first.id]))[first.id]
    await store.write_days([replace(current, version=1, status=S.PENDING)])
    # With a newer entry for the same day: the older one is refused, the newer one taken.
    newer = replace((await store.rows([second.id]))[second.id], version=9, reason="later")
    await store.write_days([replace(current, version=2, status=S.SCHEDULED), newer])
    await store.write_days([replace(current, reason="same version, other content")])
    after = await days(bed)
    day = row_day(current)
    assert after[day]["entries"][first.id] == before[day]["entries"][first.id]
    assert after[day]["entries"][second.id]["v"] == 9
    assert unpack(after[day]["entries"][second.id]).values[-2] == "later"


async def test_two_projectors_and_a_rebuild_agree_on_the_days(bed: Bed) -> None:
    bed.start_projector()
    bed.start_projector()
    booked = [await bed.book(at(n % 3, 8 + n), then=()) for n in range(6)]
    scheduled = [await bed.move(a, S.SCHEDULED) for a in booked]
    for n, appointment in enumerate(scheduled[::2]):
        await moved(bed, appointment, at(5, 8 + n))
    await bed.caught_up()

    async def days_caught_up() -> dict[str, dict[str, Any]] | None:
        found = await live(bed)
        entries = {i: v["v"] for day in found.values() for i, v in day.items()}
        return found if entries == await bed.versions() else None

    incremental = await eventually(days_caught_up, what="the days hold every version")
    assert sum(len(d) for d in incremental.values()) == 6  # each appointment once
    await bed.stop_projectors()

    await rebuild(bed.view_store(), bed.projection(), asyncio.Event())
    assert await live(bed) == incremental
    week = await ReadView(bed.database).doctor_schedule(ON_CALL, at(0, 0), at(7, 0))
    assert ids(week) == await from_rows(bed, ON_CALL, at(0, 0), at(7, 0))
    assert len(week) == 6


async def test_a_projector_finding_rows_but_no_days_fills_them(bed: Bed) -> None:
    bed.start_projector()
    booked = [await bed.book(at(n, 9)) for n in range(3)]
    await bed.caught_up()
    await bed.stop_projectors()
    assert await bed.view_store().checkpoint() is not None
    expected = await live(bed)
    await bed.database[DOCTOR_DAYS].drop()  # as a view made before the days were

    bed.start_projector()

    async def filled() -> bool:
        return await live(bed) == expected

    await eventually(filled, what="the days filled from the rows")
    later = await bed.book(at(4, 9))
    await bed.caught_up()
    week = await ReadView(bed.database).doctor_schedule(ON_CALL, at(0, 0), at(7, 0))
    assert ids(week) == [a.id for a in booked] + [later.id]
