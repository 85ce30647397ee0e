"""The changes made in one transaction, after booking: confirm, check in, complete, record a
no-show, edit, mark entered-in-error.

Each is ONE ``commit`` of a change the domain built: authorized through the permission
matrix, guarded by the version the caller saw (If-Match) or else the stored one, and
idempotent by the caller's Idempotency-Key. After the commit, the appointment's journey
is told what changed (``JourneyNews``; an edit changes nothing it follows) and the status
change is counted (``LifecycleCounts``); neither can fail the change, which is made."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from loguru import logger

from application.access import Requester, visible
from application.commands import Change, ChangeStatus, Edit, EnterInError
from application.errors import IdempotencyKeyReused
from application.permissions import Action
from application.ports import AppointmentRepository, JourneyNews, LifecycleCounts
from application.saga_runs import shown_to
from domain import model
from domain.clock import Clock, now_utc
from domain.errors import ConcurrencyConflict, IllegalTransition
from domain.events import AppointmentEvent, EventContext, event_id_for
from domain.model import Appointment
from domain.status import AppointmentStatus

STATUS_FOR_ACTION: dict[Action, AppointmentStatus] = {
    Action.CONFIRM: AppointmentStatus.CONFIRMED,
    Action.CHECK_IN: AppointmentStatus.CHECKED_IN,
    Action.COMPLETE: AppointmentStatus.COMPLETED,
    Action.NO_SHOW: AppointmentStatus.NO_SHOW,
}

# Builds the domain change from the current state, the event id, now and the context.
_Build = Callable[[Appointment, str, datetime, EventContext], model.Change]
# Whether a stored event is what this request would have written: a retry of it.
_Same = Callable[[AppointmentEvent], bool]


class NoNews:
    """Where nothing listens: no journey is told, nothing is counted."""

    async def changed(self, appointment: Appointment) -> None:
        return None

    def committed(self, status: AppointmentStatus, channel: str) -> None:
        return None


class Changes:
    def __init__(
        self,
        repository: AppointmentRepository,
        clock: Clock = now_utc,
        news: JourneyNews | None = None,
        counts: LifecycleCounts | None = None,
    ) -> None:
        self._repository, self._clock = repository, clock
        self._news: JourneyNews = news or NoNews()
        self._counts: LifecycleCounts = counts or NoNews()

    async def change_status(self, command: ChangeStatus, requester: Requester) -> Appointment:
        """Confirm, check in, complete or record a no-show."""
        action = Action(command.action)
        target = STATUS_FOR_ACTION[action]

        def build(
            current: Appointment, event_id: str, now: datetime, ctx: EventContext
        ) -> model.Change:
            return model.transition(current, target, event_id=event_id, now=now, context=ctx)

        same = _made_by(requester.context(command.reason))
        return await self._apply(command, action, requester, build, same, command.reason)

    async def edit(self, command: Edit, requester: Requester) -> Appointment:
        """Change reason and/or notes."""
        fields = command.edit.changes()

        def build(
            current: Appointment, event_id: str, now: datetime, ctx: EventContext
        ) -> model.Change:
            return model.edit(current, event_id=event_id, now=now, context=ctx, **fields)

        by_caller = _made_by(requester.context())

        def same(event: AppointmentEvent) -> bool:
            asked = {key: event.after.get(key) for key in event.after if key != "updated_at"}
            return by_caller(event) and asked == fields

        return await self._apply(command, Action.EDIT, requester, build, same)

    async def enter_in_error(self, command: EnterInError, requester: Requester) -> Appointment:
        """DELETE: keep the record, with status FAILED (FHIR entered-in-error)."""

        def build(
            current: Appointment, event_id: str, now: datetime, ctx: EventContext
        ) -> model.Change:
            try:
                return model.enter_in_error(current, event_id=event_id, now=now, context=ctx)
            except IllegalTransition as refusal:
                if current.status.occupies_slot:
                    refusal.detail += ": it still holds its slot, cancel it first"
                raise

        same = _made_by(requester.context())
        return await self._apply(command, Action.DELETE, requester, build, same)

    async def _apply(
        self,
        command: Change,
        action: Action,
        requester: Requester,
        build: _Build,
        same: _Same,
        reason: str | None = None,
    ) -> Appointment:
        current = await visible(
            self._repository, requester.principal, action, command.appointment_id
        )
        if command.idempotency_key is None:
            event_id = str(uuid.uuid4())
        else:
            # The same key for the same change of the same appointment gives the same event
            # id. If that event is stored, this is a retry of a change that was made: answer
            # the current state instead of refusing the (now illegal) change a second time.
            event_id = event_id_for(f"{current.id}/{action.value}/{command.idempotency_key}")
            made = await self._repository.event(event_id)
            if made is not None:
                if not same(made):
                    raise IdempotencyKeyReused()
                return shown_to(requester.principal, current)
        if command.if_match is not None and command.if_match != current.version:
            raise ConcurrencyConflict(
                f"the appointment is at version {current.version}, not {command.if_match}; "
                "reload it and decide again"
            )
        # The change expects ``current.version``: a change committed by someone else since we
        # read it makes the store refuse this one (ConcurrencyConflict), never overwrite it.
        change = build(current, event_id, self._clock(), requester.context(reason))
        committed = await self._repository.commit(change)
        if action is not Action.EDIT:
            await self._tell(committed, requester)
        return shown_to(requester.principal, committed)

    async def _tell(self, committed: Appointment, requester: Requester) -> None:
        """The journey and the counts learn of a committed change; a failure of either is
        logged, never the caller's: the change is made and stays made."""
        try:
            self._counts.committed(committed.status, requester.channel.value)
        except Exception:
            logger.exception("counting the change of appointment {} failed", committed.id)
        try:
            await self._news.changed(committed)
        except Exception:
            logger.exception("telling the journey of appointment {} failed", committed.id)


def _made_by(context: EventContext) -> _Same:
    def same(event: AppointmentEvent) -> bool:
        return (event.context.actor, event.context.reason) == (context.actor, context.reason)

    return same
