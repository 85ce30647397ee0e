"""GET /api/v1/doctors/{id}/schedule and /free-slots: a doctor's schedule and free slots,
read from the CQRS read view by the application layer's ``Schedule``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import RequesterDep, ServicesDep
from api.routes.transitions import problem
from api.schemas import EXAMPLE_START
from application.commands import DoctorSchedule as DoctorScheduleQuery
from application.commands import FreeSlots, Window
from application.identifiers import ENTITY_ID, Day, Instant
from application.results import FreeSlot, ScheduleEntry

router = APIRouter(prefix="/api/v1/doctors", tags=["schedule"])

EVENTUALLY_CONSISTENT = (
    "Served from the read view, which is eventually consistent: a change shows here "
    "shortly after it is made (typically well under a second). "
    "`GET /api/v1/appointments/{id}` is the strongly consistent read."
)

PROBLEM_TEXT: dict[int, str] = {
    401: "No token, or an invalid or expired one",
    403: "Patients may not read schedules; a doctor may read only their own",
    404: "The Doctor Service does not know this doctor (`doctor-not-found`)",
    422: "Invalid input: an unknown parameter, a doctor id off its pattern, `from` or `to` "
    "missing or without a UTC offset (`validation-error`); `from` not before `to`, or a "
    "window wider than the configured maximum (`invalid-schedule-window`); a day that is "
    "not YYYY-MM-DD",
    503: "The Doctor Service is unavailable; retry shortly",
}

DoctorId = Annotated[
    str,
    Path(pattern=f"^{ENTITY_ID}$", description="the Doctor Service's id", examples=["doc-on-call"]),
]


class ScheduleWindow(Window):
    """The query of the schedule (``Window``'s rules), with examples Swagger's "Try it
    out" can send. Unknown parameters are refused."""

    start_from: Instant = Field(
        alias="from",
        description="appointments starting at or after this instant (with a UTC offset)",
        examples=[EXAMPLE_START],
    )
    start_to: Instant = Field(
        alias="to",
        description="... and before this one (with a UTC offset)",
        examples=[EXAMPLE_START.replace("T09:", "T17:")],
    )


class FreeSlotsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: Day = Field(
        description="a date in the clinic's time zone, YYYY-MM-DD",
        examples=[EXAMPLE_START[:10]],
    )


class DoctorSchedule(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    doctor_id: str
    from_: datetime = Field(alias="from", description="the window's start, UTC")
    to: datetime = Field(description="the window's end (exclusive), UTC")
    appointments: list[ScheduleEntry] = Field(
        description="starting in [from, to), by start; every status but FAILED"
    )


class DoctorFreeSlots(BaseModel):
    doctor_id: str
    day: date
    timezone: str = Field(description="the clinic's time zone, in which `day` is a date")
    slots: list[FreeSlot] = Field(description="in order of start")


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: problem(PROBLEM_TEXT[code]) for code in codes}


@router.get(
    "/{doctor_id}/schedule",
    response_model=DoctorSchedule,
    summary="Read a doctor's schedule",
    description="The doctor's appointments starting in [from, to), ordered by start, with "
    "the patient's and the doctor's names: every status except FAILED. `from` and `to` "
    "need a UTC offset; the window may span at most `APPOINTMENTS_SCHEDULE_MAX_DAYS` days "
    "(62 by default). Admin, staff, and the doctor themself; patients may not (a schedule "
    "names other patients). " + EVENTUALLY_CONSISTENT,
    responses=_problems(401, 403, 422),
)
async def doctor_schedule(
    doctor_id: DoctorId,
    window: Annotated[ScheduleWindow, Query()],
    requester: RequesterDep,
    services: ServicesDep,
) -> DoctorSchedule:
    query = DoctorScheduleQuery(
        doctor_id=doctor_id, start_from=window.start_from, start_to=window.start_to
    )
    entries = await services.schedule.doctor_schedule(query, requester)
    return DoctorSchedule(
        doctor_id=doctor_id, from_=window.start_from, to=window.start_to, appointments=entries
    )


@router.get(
    "/{doctor_id}/free-slots",
    response_model=DoctorFreeSlots,
    summary="List a doctor's free slots on a day",
    description="The slots of the doctor's grid (working hours and slot length, from the "
    "Doctor Service) that start on `day` in the clinic's time zone, have not started yet, "
    "and that no appointment overlaps (PENDING, SCHEDULED, CONFIRMED, CHECKED_IN). Any "
    "role may ask. A slot that a booking is holding at this very moment may still show "
    "as free; booking it answers 409 `slot-unavailable`. " + EVENTUALLY_CONSISTENT,
    responses=_problems(401, 404, 422, 503),
)
async def free_slots(
    doctor_id: DoctorId,
    query: Annotated[FreeSlotsQuery, Query()],
    requester: RequesterDep,
    services: ServicesDep,
) -> DoctorFreeSlots:
    schedule = services.schedule
    slots = await schedule.free_slots(FreeSlots(doctor_id=doctor_id, day=query.day), requester)
    return DoctorFreeSlots(
        doctor_id=doctor_id, day=query.day, timezone=schedule.clinic_timezone, slots=slots
    )
