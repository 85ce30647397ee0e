"""Reading the schedule from the CQRS read view: a doctor's schedule, a patient's
appointments, one appointment as the view has it, and a doctor's free slots.

The view is eventually consistent: a change shows once the projector has applied its
event (typically well under a second). Free slots are the doctor's grid (from the Doctor
Service) minus the view's active appointments, so a slot a booking saga holds but has not
persisted yet shows as free; booking it answers 409 ``slot-unavailable``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from application.access import Requester
from application.commands import DoctorSchedule, FreeSlots, PatientAppointments, Window
from application.errors import UnknownDoctor
from application.permissions import (
    Action,
    Owners,
    authorize,
    doctor_seen_by,
    ensure_may_read_schedule,
)
from application.ports import DoctorCalendars, DoctorProfile, Doctors, ScheduleView
from application.results import FreeSlot, ScheduleEntry
from config import Settings
from domain.clock import Clock, now_utc
from domain.errors import AppointmentNotFound, DoctorNotFound, InvalidScheduleWindow
from domain.status import AppointmentStatus

# No appointment lasts longer than this: how far before a day free slots look for
# appointments that reach into it (the commands allow at most 480 minutes).
LONGEST_APPOINTMENT = timedelta(days=1)
# Days whose neighbours and look-back still fit in ``datetime``.
_FIRST_DAY, _LAST_DAY = date.min + timedelta(days=3), date.max - timedelta(days=3)


def check_window(window: Window, max_days: int) -> tuple[datetime, datetime]:
    """[from, to) in UTC; ``InvalidScheduleWindow`` unless from is before to and the
    window spans at most ``max_days`` days."""
    lower, upper = window.start_from, window.start_to
    if lower >= upper:
        raise InvalidScheduleWindow("from must be before to")
    if upper - lower > timedelta(days=max_days):
        raise InvalidScheduleWindow(f"the window may span at most {max_days} days")
    return lower, upper


class Schedule:
    def __init__(
        self,
        view: ScheduleView,
        calendars: DoctorCalendars,
        settings: Settings,
        clock: Clock = now_utc,
        *,
        doctors: Doctors,
    ) -> None:
        self._view, self._calendars, self._settings, self._clock = (
            view, calendars, settings, clock,
        )  # fmt: skip
        self._doctors = doctors

    async def doctor(self, doctor_id: str, requester: Requester) -> DoctorProfile:
        """A doctor's profile (their Schedule on the FHIR door): no one's personal data,
        which every role may read. UnknownDoctor if the Doctor Service
        does not know them."""
        authorize(requester.principal, Action.DOCTOR_PROFILES)
        try:
            return await self._doctors.profile(doctor_id)
        except DoctorNotFound as error:
            raise UnknownDoctor(error.detail) from None

    async def doctors(self, requester: Requester) -> list[DoctorProfile]:
        """Every doctor's profile, by id."""
        authorize(requester.principal, Action.DOCTOR_PROFILES)
        return sorted(await self._doctors.profiles(), key=lambda d: d.id)

    @property
    def clinic_timezone(self) -> str:
        """The IANA zone in which a day of ``free_slots`` is a date."""
        return self._settings.clinic_timezone

    async def doctor_schedule(
        self, query: DoctorSchedule, requester: Requester
    ) -> list[ScheduleEntry]:
        """The doctor's appointments starting in [from, to), by start; every status but
        FAILED unless ``statuses`` says which. Admin, staff and the doctor themself;
        patients may not (a schedule names other patients)."""
        ensure_may_read_schedule(requester.principal, query.doctor_id)
        lower, upper = check_window(query, self._settings.schedule_max_days)
        rows = await self._view.doctor_schedule(query.doctor_id, lower, upper)
        return _only(rows, query.statuses)

    async def patient_appointments(
        self, query: PatientAppointments, requester: Requester
    ) -> list[ScheduleEntry]:
        """The patient's appointments starting in [from, to), by start. A doctor sees only
        those with them; a patient only their own."""
        doctor_id = doctor_seen_by(requester.principal, query.patient_id)
        lower, upper = check_window(query, self._settings.schedule_max_days)
        rows = await self._view.patient_appointments(
            query.patient_id, lower, upper, doctor_id=doctor_id
        )
        return _only(rows, query.statuses)

    async def appointment(self, appointment_id: str, requester: Requester) -> ScheduleEntry:
        """One appointment as the view has it; someone else's reads as missing."""
        who = requester.principal
        authorize(who, Action.READ)
        entry = await self._view.appointment(appointment_id)
        if entry is None:
            raise AppointmentNotFound(f"no appointment {appointment_id}")
        authorize(who, Action.READ, Owners(entry.patient_id, entry.doctor_id))
        return entry

    async def free_slots(self, query: FreeSlots, requester: Requester) -> list[FreeSlot]:
        """The slots of the doctor's grid that start on ``day`` in the clinic's time zone,
        have not started yet, and that no active appointment overlaps. Any role may ask.
        A doctor the Doctor Service does not know is what is asked about: UnknownDoctor."""
        authorize(requester.principal, Action.FREE_SLOTS)
        day = query.day
        if not _FIRST_DAY <= day <= _LAST_DAY:
            raise InvalidScheduleWindow("the day is out of range")
        try:
            calendar = await self._calendars.calendar(query.doctor_id)
        except DoctorNotFound as error:
            raise UnknownDoctor(error.detail) from None
        opens, closes = self._clinic_day(day)
        # The doctor's own dates that can reach into the clinic's day: the same date when
        # both keep one time zone, a neighbour too when they do not.
        grid = [
            slot
            for doctor_date in (day - timedelta(days=1), day, day + timedelta(days=1))
            for slot in calendar.slots_on(doctor_date)
            if opens <= slot[0] < closes
        ]
        busy = await self._view.busy(query.doctor_id, opens - LONGEST_APPOINTMENT, closes)
        now = self._clock()
        return [
            FreeSlot(start=start, end=end)
            for start, end in grid
            if start > now and not any(s < end and start < e for s, e in busy if e > opens)
        ]

    def _clinic_day(self, day: date) -> tuple[datetime, datetime]:
        zone = self._settings.clinic_zone
        opens = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return opens, closes


def _only(
    rows: list[ScheduleEntry], statuses: list[AppointmentStatus] | None
) -> list[ScheduleEntry]:
    return rows if statuses is None else [row for row in rows if row.status in statuses]
