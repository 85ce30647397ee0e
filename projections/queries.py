"""Reading the read view: a doctor's schedule, a patient's appointments, one appointment,
and a doctor's free slots. REST (``api/routes/schedule.py``) and GraphQL both call
``ScheduleQueries``; they authorize the caller first, this class does not.

The view is eventually consistent: it trails the write model by the projector's lag
(typically well under a second). ``GET /api/v1/appointments/{id}`` is the strongly
consistent read. Free slots are the doctor's grid minus the view's active appointments,
so a slot that a booking saga holds at the Doctor Service but has not yet persisted is
not in the view and shows as free; booking it answers 409 ``slot-unavailable``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase

from config import Settings
from domain.clock import Clock, now_utc, utc
from domain.errors import InvalidScheduleWindow
from domain.schedule import WorkingInterval, grid_slots
from domain.status import ACTIVE_STATUSES, AppointmentStatus
from peers.doctors import DoctorClient
from projections.read_view import READ_VIEW

# No appointment lasts longer than this: how far before a day free slots look for
# appointments that reach into it (the schemas allow at most 480 minutes).
LONGEST_APPOINTMENT = timedelta(days=1)
ORDER = [("start", 1), ("_id", 1)]
# Days whose neighbours and look-back still fit in ``datetime``.
_FIRST_DAY, _LAST_DAY = date.min + timedelta(days=3), date.max - timedelta(days=3)


class ScheduleEntry(BaseModel):
    """An appointment as a schedule shows it (a row of the read view)."""

    id: str = Field(examples=["0b5f2c7e-4f1a-4f3e-9a51-7c1d2e3f4a5b"])
    patient_id: str = Field(examples=["pat-anna-schmidt"])
    patient_name: str | None = Field(
        description="null when the Patient Service does not know the patient",
        examples=["Anna Schmidt"],
    )
    doctor_id: str = Field(examples=["doc-on-call"])
    doctor_name: str | None = Field(examples=["Dr. Noah Fischer (on call)"])
    doctor_specialty: str | None = Field(examples=["general practice"])
    day: str = Field(
        description="the start's date in the clinic's time zone", examples=["2030-01-07"]
    )
    start: datetime = Field(description="UTC", examples=["2030-01-07T08:00:00Z"])
    end: datetime = Field(description="UTC", examples=["2030-01-07T08:15:00Z"])
    duration_minutes: int = Field(examples=[15])
    timezone: str = Field(description="the clinic's IANA time zone", examples=["Europe/Berlin"])
    status: AppointmentStatus
    reason: str | None = Field(examples=["Persistent cough"])
    updated_at: datetime = Field(description="when the last change the view holds happened")


class FreeSlot(BaseModel):
    start: datetime = Field(description="UTC", examples=["2030-01-07T08:00:00Z"])
    end: datetime = Field(description="UTC", examples=["2030-01-07T08:15:00Z"])


def check_window(
    start_from: datetime, start_to: datetime, max_days: int
) -> tuple[datetime, datetime]:
    """[from, to) in UTC; ``InvalidScheduleWindow`` unless both carry an offset, from is
    before to, and the window spans at most ``max_days`` days."""
    if start_from.utcoffset() is None or start_to.utcoffset() is None:
        raise InvalidScheduleWindow("from and to must carry a UTC offset")
    try:
        lower, upper = start_from.astimezone(UTC), start_to.astimezone(UTC)
    except OverflowError:
        raise InvalidScheduleWindow("from or to is out of range") from None
    if lower >= upper:
        raise InvalidScheduleWindow("from must be before to")
    if upper - lower > timedelta(days=max_days):
        raise InvalidScheduleWindow(f"the window may span at most {max_days} days")
    return lower, upper


def _entry(raw: dict[str, Any]) -> ScheduleEntry:
    values = {k: v for k, v in raw.items() if k in ScheduleEntry.model_fields}
    return ScheduleEntry(**values, id=raw["_id"])


def schedule_filter(doctor_id: str, lower: datetime, upper: datetime) -> dict[str, Any]:
    """A doctor's appointments starting in [lower, upper): one range of the view's
    ``doctor_start`` index (what ``bench/`` explains)."""
    return {"doctor_id": doctor_id, "start": {"$gte": lower, "$lt": upper}}


class ScheduleQueries:
    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        doctors: DoctorClient,
        settings: Settings,
        *,
        clock: Clock = now_utc,
    ) -> None:
        self._view = database[READ_VIEW]
        self._doctors, self._settings, self._clock = doctors, settings, clock

    @property
    def clinic_timezone(self) -> str:
        """The IANA zone in which a ``day`` of ``free_slots`` is a date."""
        return self._settings.clinic_timezone

    async def doctor_schedule(
        self, doctor_id: str, start_from: datetime, start_to: datetime
    ) -> list[ScheduleEntry]:
        """The doctor's appointments starting in [from, to), by start; every status but
        FAILED (a booking that never happened, or one entered in error)."""
        lower, upper = check_window(start_from, start_to, self._settings.schedule_max_days)
        return await self._find(schedule_filter(doctor_id, lower, upper))

    async def patient_appointments(
        self,
        patient_id: str,
        start_from: datetime,
        start_to: datetime,
        *,
        doctor_id: str | None = None,
    ) -> list[ScheduleEntry]:
        """The patient's appointments starting in [from, to), by start, every status but
        FAILED; only those with ``doctor_id`` if given (what a doctor may see)."""
        lower, upper = check_window(start_from, start_to, self._settings.schedule_max_days)
        query = {"patient_id": patient_id, "start": {"$gte": lower, "$lt": upper}}
        return await self._find(query, doctor_id=doctor_id)

    async def appointment(self, appointment_id: str) -> ScheduleEntry | None:
        """The view's row of one appointment, whatever its status; None if not (yet) there."""
        raw = await self._view.find_one({"_id": appointment_id})
        return _entry(raw) if raw else None

    async def free_slots(self, doctor_id: str, day: date) -> list[FreeSlot]:
        """The doctor's grid slots starting on ``day`` (a date in the clinic's time zone)
        that no active appointment in the view overlaps and that have not started yet.
        Raises ``DoctorNotFound`` for a doctor the Doctor Service does not know."""
        if not _FIRST_DAY <= day <= _LAST_DAY:
            raise InvalidScheduleWindow("the day is out of range")
        doctor = await self._doctors.get_doctor(doctor_id)
        zone = ZoneInfo(doctor.timezone)
        hours = [WorkingInterval(h.weekday, h.start, h.end) for h in doctor.working_hours]
        opens, closes = self._clinic_day(day)
        # The doctor's own dates that can reach into the clinic's day: the same date when
        # both keep one time zone, a neighbour too when they do not.
        dates = (day - timedelta(days=1), day, day + timedelta(days=1))
        grid = [
            slot
            for doctor_date in dates
            for slot in grid_slots(doctor_date, hours, zone, doctor.slot_minutes)
            if opens <= slot[0] < closes
        ]
        busy = await self._busy(doctor_id, opens, closes)
        now = self._clock()
        return [
            FreeSlot(start=start, end=end)
            for start, end in grid
            if start > now and not any(s < end and start < e for s, e in busy)
        ]

    def _clinic_day(self, day: date) -> tuple[datetime, datetime]:
        zone = self._settings.clinic_zone
        opens = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return opens, closes

    async def _busy(
        self, doctor_id: str, opens: datetime, closes: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The (start, end) of the doctor's active appointments that overlap [opens, closes)."""
        query = {
            "doctor_id": doctor_id,
            "start": {"$gte": opens - LONGEST_APPOINTMENT, "$lt": closes},
        }
        cursor = self._view.find(query, {"start": 1, "end": 1, "status": 1})
        active = {s.value for s in ACTIVE_STATUSES}
        return [
            (utc(raw["start"]), utc(raw["end"]))
            async for raw in cursor
            if raw["status"] in active and utc(raw["end"]) > opens
        ]

    async def _find(
        self, query: dict[str, Any], *, doctor_id: str | None = None
    ) -> list[ScheduleEntry]:
        """The rows of one range of an index (owner and start), filtered here: any other
        condition, or a hint, makes the local MongoDB stand-in scan the whole collection
        (bench/ measured 3.5 s instead of 5 ms at 100,000 rows). Real MongoDB picks the same
        index for this shape by itself."""
        cursor = self._view.find(query).sort(ORDER)
        return [
            _entry(raw)
            async for raw in cursor
            if raw["status"] != AppointmentStatus.FAILED.value
            and (doctor_id is None or raw["doctor_id"] == doctor_id)
        ]
