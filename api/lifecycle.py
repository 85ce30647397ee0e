"""The appointment's life after booking, as service functions the REST routes (and later
GraphQL) call: status changes, edits, entered-in-error, its history and the list query.

Each change is ONE ``store.commit`` of a change the domain built: authorized through
``api.security.permissions``, guarded by the version the caller saw (``If-Match``) or
else the stored one, and idempotent by the caller's ``Idempotency-Key``."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from api.problems import ProblemError
from api.schemas import ListQuery, encode_cursor
from api.security.permissions import (
    Action,
    Owners,
    Principal,
    Role,
    Scope,
    authorize,
    owns,
    scope_of,
)
from domain import model
from domain.clock import now_utc
from domain.errors import AppointmentNotFound, ConcurrencyConflict, IllegalTransition
from domain.events import AppointmentEvent, EventContext, event_id_for
from domain.model import Appointment, Change
from domain.status import AppointmentStatus
from persistence import AppointmentStore
from persistence.store import AppointmentFilter

STATUS_FOR_ACTION: dict[Action, AppointmentStatus] = {
    Action.CONFIRM: AppointmentStatus.CONFIRMED,
    Action.CHECK_IN: AppointmentStatus.CHECKED_IN,
    Action.COMPLETE: AppointmentStatus.COMPLETED,
    Action.NO_SHOW: AppointmentStatus.NO_SHOW,
}


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """Who asks to change which appointment, under which preconditions."""

    appointment_id: str
    principal: Principal
    request_id: str | None = None
    idempotency_key: str | None = None  # None: the change is not recognised on a retry
    if_match: int | None = None  # the version the caller saw; None: the stored one
    reason: str | None = None  # why, for the event


# Builds the domain change from the current state, the event id, now and the context.
_Build = Callable[[Appointment, str, datetime, EventContext], Change]
# Whether a stored event is what this request would have written: a retry of it.
_Same = Callable[[AppointmentEvent], bool]


async def change_status(store: AppointmentStore, action: Action, ask: ChangeRequest) -> Appointment:
    """Confirm, check in, complete or record a no-show."""
    target = STATUS_FOR_ACTION[action]

    def build(current: Appointment, event_id: str, now: datetime, ctx: EventContext) -> Change:
        return model.transition(current, target, event_id=event_id, now=now, context=ctx)

    return await _apply(store, action, ask, build, lambda event: _same_caller(event, ask))


async def edit(
    store: AppointmentStore, ask: ChangeRequest, fields: dict[str, str | None]
) -> Appointment:
    """Change reason and/or notes."""

    def build(current: Appointment, event_id: str, now: datetime, ctx: EventContext) -> Change:
        return model.edit(current, event_id=event_id, now=now, context=ctx, **fields)

    def same(event: AppointmentEvent) -> bool:
        asked = {key: event.after.get(key) for key in event.after if key != "updated_at"}
        return _same_caller(event, ask) and asked == fields

    return await _apply(store, Action.EDIT, ask, build, same)


async def enter_in_error(store: AppointmentStore, ask: ChangeRequest) -> Appointment:
    """DELETE: keep the record, with status FAILED (FHIR entered-in-error)."""

    def build(current: Appointment, event_id: str, now: datetime, ctx: EventContext) -> Change:
        try:
            return model.enter_in_error(current, event_id=event_id, now=now, context=ctx)
        except IllegalTransition as refusal:
            if current.status.occupies_slot:
                refusal.detail += ": it still holds its slot, cancel it first"
            raise

    return await _apply(store, Action.DELETE, ask, build, lambda e: _same_caller(e, ask))


async def _apply(
    store: AppointmentStore, action: Action, ask: ChangeRequest, build: _Build, same: _Same
) -> Appointment:
    current = await _visible(store, ask.principal, action, ask.appointment_id)
    if ask.idempotency_key is None:
        event_id = str(uuid.uuid4())
    else:
        # The same key for the same change of the same appointment gives the same event
        # id. If that event is stored, this is a retry of a change that was made: answer
        # the current state instead of refusing the (now illegal) change a second time.
        event_id = event_id_for(f"{current.id}/{action.value}/{ask.idempotency_key}")
        made = await store.event(event_id)
        if made is not None:
            if not same(made):
                raise ProblemError(
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key reused",
                    "this Idempotency-Key was already used with a different request",
                )
            return current
    if ask.if_match is not None and ask.if_match != current.version:
        raise ConcurrencyConflict(
            f"the appointment is at version {current.version}, not {ask.if_match}; "
            "reload it and decide again"
        )
    context = EventContext(actor=ask.principal.actor, reason=ask.reason, request_id=ask.request_id)
    # The change expects ``current.version``: a change committed by someone else since we
    # read it makes the store refuse this one (ConcurrencyConflict), never overwrite it.
    return await store.commit(build(current, event_id, now_utc(), context))


def _same_caller(event: AppointmentEvent, ask: ChangeRequest) -> bool:
    return (event.context.actor, event.context.reason) == (ask.principal.actor, ask.reason)


async def _visible(
    store: AppointmentStore, who: Principal, action: Action, appointment_id: str
) -> Appointment:
    """The appointment, if ``who`` may do ``action`` on it. A role that never may is
    refused (403) before the look-up; someone else's appointment reads as missing (404)."""
    authorize(who, action)
    appointment = await store.get(appointment_id)
    if appointment is None:
        raise AppointmentNotFound(f"no appointment {appointment_id}")
    authorize(who, action, Owners(appointment.patient_id, appointment.doctor_id))
    return appointment


async def history(
    store: AppointmentStore, who: Principal, appointment_id: str
) -> list[AppointmentEvent]:
    """The appointment's events in seq order."""
    appointment = await _visible(store, who, Action.READ, appointment_id)
    events = await store.history(appointment.id)
    if scope_of(who, Action.READ) is Scope.ANY:
        return events
    owners = {f"{Role.PATIENT}:{appointment.patient_id}", f"{Role.DOCTOR}:{appointment.doctor_id}"}
    return [e if e.context.actor in owners else _without_who(e) for e in events]


def _without_who(event: AppointmentEvent) -> AppointmentEvent:
    """No internal id of another user leaves the service (ARCHITECTURE §4): a patient or a
    doctor sees that staff (or the system) made a change, not which user, nor the request."""
    role = event.context.actor.split(":", 1)[0]
    context = dataclasses.replace(event.context, actor=role, request_id=None)
    return dataclasses.replace(event, context=context)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Appointment]
    next_cursor: str | None


async def list_appointments(store: AppointmentStore, who: Principal, query: ListQuery) -> Page:
    """One page of the appointments ``who`` may see that match ``query``, in (start, id)
    order. A patient's or doctor's own scope is ANDed with the filters, so a filter that
    names someone else selects nothing rather than someone else's appointments."""
    authorize(who, Action.LIST)
    where = AppointmentFilter(
        doctor_id=query.doctor_id,
        patient_id=query.patient_id,
        statuses=frozenset(query.status),
        start_from=query.start_from,
        start_to=query.start_to,
    )
    if scope_of(who, Action.LIST) is Scope.OWN:
        narrowed = _narrowed_to_own(where, who)
        if narrowed is None:
            return Page([], None)
        where = narrowed
    # One more than asked tells whether another page follows, without a second query.
    found = await store.find(where, after=query.position(), limit=query.limit + 1)
    page = found[: query.limit]
    cursor = None
    if len(found) > query.limit:
        cursor = encode_cursor(page[-1].start, page[-1].id)
    if scope_of(who, Action.LIST) is Scope.OWN:
        # Belt and braces: the filter above already selected only the caller's own.
        page = [a for a in page if owns(who, Owners(a.patient_id, a.doctor_id))]
    return Page(page, cursor)


def _narrowed_to_own(where: AppointmentFilter, who: Principal) -> AppointmentFilter | None:
    """The filter restricted to ``who``'s own appointments; None when it names someone
    else (or the role owns none), which selects nothing. Fails closed."""
    if who.role is Role.PATIENT and where.patient_id in (None, who.subject):
        return dataclasses.replace(where, patient_id=who.subject)
    if who.role is Role.DOCTOR and where.doctor_id in (None, who.subject):
        return dataclasses.replace(where, doctor_id=who.subject)
    return None
