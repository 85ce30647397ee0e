"""GET /api/v1/doctors/{id}/schedule and /free-slots: a doctor's schedule and free slots,
read from the CQRS read view (``projections.queries.ScheduleQueries``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from api.deps import PrincipalDep, ScheduleDep
from api.problems import ProblemError
from api.routes.transitions import problem
from api.schemas import EXAMPLE_START, ID_PATTERN, DateTimeWithOffset
from api.security.permissions import Action, authorize, ensure_may_read_schedule
from domain.errors import DoctorNotFound, PeerUnavailable
from projections.queries import FreeSlot, ScheduleEntry

router = APIRouter(prefix="/api/v1/doctors", tags=["schedule"])

T = TypeVar("T")

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
    Path(pattern=ID_PATTERN, description="the Doctor Service's id", examples=["doc-on-call"]),
]

_DAY = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)


def _a_day_string(value: Any) -> Any:
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD, e.g. 2030-01-07")
    return value


# Only the ISO spelling: lax Pydantic would also read Unix seconds as a date.
Day = Annotated[date, BeforeValidator(_a_day_string)]


class ScheduleWindow(BaseModel):
    """The query of the schedule. Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start_from: DateTimeWithOffset = Field(
        alias="from",
        description="appointments starting at or after this instant (with a UTC offset)",
        examples=[EXAMPLE_START],
    )
    start_to: DateTimeWithOffset = Field(
        alias="to",
        description="... and before this one (with a UTC offset)",
        examples=[EXAMPLE_START.replace("T09:", "T17:")],
    )

    @field_validator("start_from", "start_to")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range") from None


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


async def _answer(query: Awaitable[T]) -> T:
    """The query's answer. A bad window is a 422 like every ``InvalidScheduleWindow``
    (api/problems.py); here a doctor named in the PATH whom the Doctor Service does not
    know is a missing resource (404, where one named in a booking's body is a 422), and a
    Doctor Service that is down a 503 to retry, not an internal error."""
    try:
        return await query
    except DoctorNotFound as error:
        raise ProblemError(404, error.code, error.title, error.detail) from None
    except PeerUnavailable:
        raise ProblemError(
            503,
            "peer-unavailable",
            "Service unavailable",
            "The Doctor Service is not reachable; retry shortly.",
            headers={"Retry-After": "5"},
        ) from None


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
    who: PrincipalDep,
    schedule: ScheduleDep,
) -> DoctorSchedule:
    ensure_may_read_schedule(who, doctor_id)
    entries = await _answer(schedule.doctor_schedule(doctor_id, window.start_from, window.start_to))
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
    who: PrincipalDep,
    schedule: ScheduleDep,
) -> DoctorFreeSlots:
    authorize(who, Action.FREE_SLOTS)
    slots = await _answer(schedule.free_slots(doctor_id, query.day))
    return DoctorFreeSlots(
        doctor_id=doctor_id, day=query.day, timezone=schedule.clinic_timezone, slots=slots
    )
