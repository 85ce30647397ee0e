"""Reading the write model: a page of appointments, and one appointment's history."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from application.access import Requester, visible
from application.commands import (
    HistoryPage,
    ListAppointments,
    encode_cursor,
    encode_history_cursor,
)
from application.permissions import (
    Action,
    Owners,
    Principal,
    Role,
    Scope,
    authorize,
    owns,
    scope_of,
)
from application.ports import AppointmentFilter, AppointmentRepository
from application.results import EventPage, Page
from application.saga_runs import shown_to
from domain.events import AppointmentEvent, EventType
from domain.model import Appointment
from domain.status import AppointmentStatus

FIRST_PAGE = HistoryPage()


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Why an appointment was cancelled, and the role of who did (as its event says)."""

    reason: str | None
    by_role: str | None


class Reads:
    def __init__(self, repository: AppointmentRepository) -> None:
        self._repository = repository

    async def page(self, query: ListAppointments, requester: Requester) -> Page:
        """One page of the appointments the caller may see that match ``query``, in
        (start, id) order. A patient's or doctor's own scope is ANDed with the filters, so a
        filter that names someone else selects nothing rather than someone else's
        appointments."""
        who = requester.principal
        authorize(who, Action.LIST)
        where = _filter_of(query)
        own = scope_of(who, Action.LIST) is Scope.OWN
        if own:
            narrowed = _narrowed_to_own(where, who)
            if narrowed is None:
                return Page([], None)
            where = narrowed
        # One more than asked tells whether another page follows, without a second query.
        found = await self._repository.find(where, after=query.position(), limit=query.limit + 1)
        page = found[: query.limit]
        cursor = None
        if len(found) > query.limit:
            cursor = encode_cursor(page[-1].start, page[-1].id)
        if own:
            # Belt and braces: the filter above already selected only the caller's own.
            page = [a for a in page if owns(who, Owners(a.patient_id, a.doctor_id))]
        return Page([shown_to(who, a) for a in page], cursor)

    async def total(self, query: ListAppointments, requester: Requester) -> int:
        """How many appointments the caller may see match ``query`` (every page's), the
        same filter as ``page``."""
        who = requester.principal
        authorize(who, Action.LIST)
        where = _filter_of(query)
        if scope_of(who, Action.LIST) is Scope.OWN:
            narrowed = _narrowed_to_own(where, who)
            if narrowed is None:
                return 0
            where = narrowed
        return await self._repository.count(where)

    async def cancellation(self, appointment: Appointment) -> Cancellation | None:
        """Why, and by which role, ``appointment`` (one the caller has read) was
        cancelled: its cancellation event's reason and actor's role. None unless it is
        CANCELLED."""
        if appointment.status is not AppointmentStatus.CANCELLED:
            return None
        for event in reversed(await self._repository.history(appointment.id)):
            if event.type is EventType.CANCELLED:
                role = event.context.actor.split(":", 1)[0]
                return Cancellation(event.context.reason, role)
        return Cancellation(None, None)

    async def history(
        self, appointment_id: str, requester: Requester, page: HistoryPage = FIRST_PAGE
    ) -> EventPage:
        """One page of the appointment's events in seq order, with the cursor of the next
        page. A patient or a doctor sees that staff (or the system) made a change, not
        which user, no one else's request id, and no saga run's ids (operators' handles,
        application/saga_runs.py): no internal id of another user leaves the service
        (ARCHITECTURE §4)."""
        who = requester.principal
        appointment = await visible(self._repository, who, Action.READ, appointment_id)
        # One more than asked tells whether another page follows, without a second query.
        found = await self._repository.history(
            appointment.id, after_seq=page.after_seq(), limit=page.limit + 1
        )
        events = found[: page.limit]
        cursor = encode_history_cursor(events[-1].seq) if len(found) > page.limit else None
        if scope_of(who, Action.READ) is not Scope.ANY:
            owners = {
                f"{Role.PATIENT}:{appointment.patient_id}",
                f"{Role.DOCTOR}:{appointment.doctor_id}",
            }
            events = [_as_seen_by(who.actor, owners, event) for event in events]
        return EventPage([shown_to(who, event) for event in events], cursor)


def _as_seen_by(viewer: str, owners: set[str], event: AppointmentEvent) -> AppointmentEvent:
    """The event as the appointment's patient or doctor may see it: their own changes as
    recorded; the other owner by name (both know each other from the appointment) but not
    their request; anyone else by role only."""
    actor = event.context.actor
    if actor == viewer:
        return event
    shown = actor if actor in owners else actor.split(":", 1)[0]
    context = dataclasses.replace(event.context, actor=shown, request_id=None)
    return dataclasses.replace(event, context=context)


def _filter_of(query: ListAppointments) -> AppointmentFilter:
    return AppointmentFilter(
        doctor_id=query.doctor_id,
        patient_id=query.patient_id,
        statuses=frozenset(query.status),
        start_from=query.start_from,
        start_to=query.start_to,
    )


def _narrowed_to_own(where: AppointmentFilter, who: Principal) -> AppointmentFilter | None:
    """The filter restricted to ``who``'s own appointments; None when it names someone
    else (or the role owns none), which selects nothing. Fails closed."""
    if who.role is Role.PATIENT and where.patient_id in (None, who.subject):
        return dataclasses.replace(where, patient_id=who.subject)
    if who.role is Role.DOCTOR and where.doctor_id in (None, who.subject):
        return dataclasses.replace(where, doctor_id=who.subject)
    return None
