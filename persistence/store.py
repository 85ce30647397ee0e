"""The unit of work: the ONE place that writes appointments, their events and their
outbox rows, always together in one MongoDB transaction (STYLE principle 4)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from domain.errors import ConcurrencyConflict, SlotUnavailable
from domain.events import AppointmentEvent
from domain.model import Appointment, Change
from persistence import documents as db
from persistence.mapping import (
    event_from_document,
    event_to_document,
    from_document,
    outbox_row,
    to_document,
)


class _AlreadyApplied(Exception):
    """The change's event is already stored: a retry of a committed change."""


class AppointmentStore:
    def __init__(self, client: AsyncMongoClient[Any], topic: str) -> None:
        self._client = client
        self._topic = topic

    async def get(self, appointment_id: str) -> Appointment | None:
        doc = await db.Appointment.get(appointment_id)
        return from_document(doc) if doc else None

    async def history(self, appointment_id: str) -> list[AppointmentEvent]:
        docs = (
            await db.AppointmentEvent.find(db.AppointmentEvent.appointment_id == appointment_id)
            .sort("+seq")
            .to_list()
        )
        return [event_from_document(d) for d in docs]

    async def commit(self, change: Change) -> Appointment:
        """Write state, event and outbox row atomically, and return the stored state.

        Idempotent by the event id: if the event is already stored (a retried activity
        whose first attempt committed), nothing is written and the stored state is
        returned. Optimistic concurrency: an update applies only while the stored
        ``version`` is still ``change.expected_version``; otherwise ConcurrencyConflict.
        An overlap with another active appointment raises SlotUnavailable."""
        async with self._client.start_session() as session:
            try:
                await session.with_transaction(lambda s: self._write(s, change))
            except _AlreadyApplied:
                pass
            except DuplicateKeyError as error:
                if await self._event_stored(change.event.event_id):
                    pass  # a concurrent retry of this same change committed first
                elif db.NO_OVERLAP_INDEX in str(error):
                    raise SlotUnavailable(
                        "the doctor already has an appointment at this time"
                    ) from error
                else:
                    raise ConcurrencyConflict("the appointment already exists") from error
            except ConcurrencyConflict:
                if not await self._event_stored(change.event.event_id):
                    raise
        stored = await self.get(change.state.id)
        assert stored is not None, "a committed appointment must be readable"
        return stored

    async def _write(self, session: AsyncClientSession, change: Change) -> None:
        event = change.event
        if await db.AppointmentEvent.find_one({"_id": event.event_id}, session=session):
            raise _AlreadyApplied
        document = to_document(change.state)
        if change.expected_version is None:
            await document.insert(session=session)
        else:
            collection = db.Appointment.get_pymongo_collection()
            result = await collection.replace_one(
                {"_id": change.state.id, "version": change.expected_version},
                document.model_dump(by_alias=True),
                session=session,
            )
            if result.matched_count == 0:
                raise ConcurrencyConflict(
                    f"appointment {change.state.id} changed since version "
                    f"{change.expected_version}; reload and retry"
                )
        await event_to_document(event).insert(session=session)
        await outbox_row(event, change.state, self._topic).insert(session=session)

    async def _event_stored(self, event_id: str) -> bool:
        return await db.AppointmentEvent.find_one({"_id": event_id}) is not None
