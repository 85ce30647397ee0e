"""Slot holds taken ahead of a booking (the FHIR door's ``Appointment/$hold``), and the
holds the Doctor Service keeps (the Slot search's ``busy-tentative``).

A hold lives ``settings.slot_hold_minutes`` at the Doctor Service. Whoever may book for a
patient may hold a slot for them (a patient for themself, staff and admin for anyone); a
booking on the hold (``Booking.book`` with ``Book.held``) confirms it instead of taking a
second one. An unconfirmed hold expires by itself: nothing here releases one."""

from __future__ import annotations

from datetime import datetime, timedelta

from application.access import Requester
from application.errors import IdempotencyKeyReused, SlotNoLongerFree, UnknownDoctor
from application.permissions import Action, authorize, ensure_may_book_for, scope_of
from application.permissions import Scope as PermissionScope
from application.ports import DoctorCalendars, DoctorDesk, ScheduleView, SlotHold
from config import Settings
from domain.clock import Clock, now_utc
from domain.errors import AppointmentNotFound, DoctorNotFound, SlotUnavailable
from domain.rules import BookingLimits, validate_requested_time
from domain.schedule import WorkingCalendar
from workflows.contracts.booking import AdoptedHold

HELD = "HELD"


class SlotHolds:
    def __init__(
        self,
        desk: DoctorDesk,
        calendars: DoctorCalendars,
        view: ScheduleView,
        settings: Settings,
        clock: Clock = now_utc,
    ) -> None:
        self._desk, self._calendars, self._view = desk, calendars, view
        self._settings, self._clock = settings, clock
        self._limits = BookingLimits(
            min_duration_minutes=settings.min_duration_minutes,
            max_duration_minutes=settings.max_duration_minutes,
        )

    @property
    def max_window_days(self) -> int:
        """The widest window a slot search may ask for (``settings.schedule_max_days``)."""
        return self._settings.schedule_max_days

    async def hold(
        self,
        doctor_id: str,
        start: datetime,
        minutes: int,
        patient_id: str,
        requester: Requester,
        idempotency_key: str,
    ) -> SlotHold:
        """Hold the slot for the patient for ``settings.slot_hold_minutes``. The same key
        (per caller) answers the same hold; the same key for another slot is refused. A
        slot taken or held already: ``SlotNoLongerFree``."""
        ensure_may_book_for(requester.principal, patient_id)
        validate_requested_time(start, minutes, self._clock(), self._limits)
        key = f"fhir-hold/{requester.principal.actor}/{idempotency_key}"
        try:
            hold = await self._desk.hold(
                doctor_id,
                start,
                minutes,
                patient_id,
                self._settings.slot_hold_minutes * 60,
                key,
            )
        except SlotUnavailable as error:
            raise SlotNoLongerFree(f"the slot is no longer free: {error.detail}") from None
        asked = (doctor_id, start, start + timedelta(minutes=minutes), patient_id)
        if (hold.doctor_id, hold.start, hold.end, hold.patient_id) != asked:
            raise IdempotencyKeyReused()
        if hold.status != HELD:  # the key's hold, booked, let go or expired since
            raise SlotNoLongerFree(f"the hold {hold.hold_id} is {hold.status.lower()}")
        return hold

    async def held(self, hold_id: str, requester: Requester) -> SlotHold:
        """The hold ``hold_id`` as its patient (or staff, admin) may see it; someone else's
        reads as missing, like an appointment."""
        who = requester.principal
        authorize(who, Action.BOOK)
        hold = await self._desk.hold_of(hold_id)
        if hold is None or (
            scope_of(who, Action.BOOK) is PermissionScope.OWN and hold.patient_id != who.subject
        ):
            raise AppointmentNotFound(f"no appointment hold-{hold_id}")
        return hold

    async def adopt(
        self, hold_id: str, requester: Requester, *, joining: bool = False
    ) -> tuple[SlotHold, AdoptedHold]:
        """The hold a booking will confirm: still HELD and not expired, or
        ``SlotNoLongerFree``. ``joining``: the caller retries a booking its key already
        started, which joins that run (and never confirms anything again), so the hold may
        be confirmed by now."""
        hold = await self.held(hold_id, requester)
        if not joining and (hold.status != HELD or hold.expires_at <= self._clock()):
            state = "expired" if hold.status == HELD else hold.status.lower()
            raise SlotNoLongerFree(f"the hold {hold_id} is {state}; hold the slot again")
        return hold, AdoptedHold(hold_id=hold.hold_id, expires_at=hold.expires_at)

    async def tentative(
        self, doctor_id: str, start_from: datetime, start_to: datetime, requester: Requester
    ) -> list[SlotHold]:
        """The doctor's HELD holds starting in [from, to), by start: slots taken for a
        booking that has not confirmed them yet. Any role may ask (as for free slots)."""
        authorize(requester.principal, Action.FREE_SLOTS)
        now = self._clock()
        holds = await self._desk.held(doctor_id)
        return sorted(
            (
                h
                for h in holds
                if h.status == HELD and start_from <= h.start < start_to and h.expires_at > now
            ),
            key=lambda h: (h.start, h.hold_id),
        )

    async def calendar(self, doctor_id: str, requester: Requester) -> WorkingCalendar:
        """The doctor's calendar (its zone: where their instants are computed and shown);
        UnknownDoctor if the Doctor Service does not know them. Any role may ask."""
        authorize(requester.principal, Action.FREE_SLOTS)
        try:
            return await self._calendars.calendar(doctor_id)
        except DoctorNotFound as error:
            raise UnknownDoctor(error.detail) from None

    async def busy(
        self, doctor_id: str, start_from: datetime, start_to: datetime, requester: Requester
    ) -> list[tuple[datetime, datetime]]:
        """(start, end) of the doctor's active appointments starting in [from, to), by
        start, from the read view: when, never whose. Any role may ask."""
        authorize(requester.principal, Action.FREE_SLOTS)
        return sorted(await self._view.busy(doctor_id, start_from, start_to))
