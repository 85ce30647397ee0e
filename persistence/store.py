"""The unit of work: the ONE place that writes appointments, their events and their
outbox rows, always together in one MongoDB transaction (STYLE principle 4). It is the
application layer's ``AppointmentRepository``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import SortDirection
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from application.ports import AppointmentFilter
from domain.errors import ConcurrencyConflict, DomainError, SlotUnavailable
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
from persistence.unit_of_work import Writes, as_stored, commit_once

# A page is ordered by (start, id): the id breaks ties between appointments that start at
# the same instant, so the order is total and a keyset cursor never skips or repeats one.
LIST_ORDER = [("start", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)]


class AppointmentStore:
    def __init__(self, client: AsyncMongoClient[Any], topic: str) -> None:
        self._client = client
        self._topic = topic

    async def get(self, appointment_id: str) -> Appointment | None:
        doc = await db.Appointment.get(appointment_id)
        return from_document(doc) if doc else None

    async def history(
        self, appointment_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[AppointmentEvent]:
        """The events with a seq above ``after_seq``, in seq order, up to ``limit`` (None:
        all): one range of the ``appointment_seq`` index."""
        query = db.AppointmentEvent.find(
            {"appointment_id": appointment_id, "seq": {"$gt": after_seq}}
        ).sort("+seq")
        if limit is not None:
            query = query.limit(limit)
        return [event_from_document(d) for d in await query.to_list()]

    async def event(self, event_id: str) -> AppointmentEvent | None:
        """The stored event with this id: a change whose event is stored was applied."""
        doc = await db.AppointmentEvent.find_one({"_id": event_id})
        return event_from_document(doc) if doc else None

    async def find(
        self, where: AppointmentFilter, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Appointment]:
        """Up to ``limit`` appointments matching ``where`` in (start, id) order, those
        after the keyset position ``after`` (the (start, id) of the last one seen).

        A query naming a doctor, a patient or a status reads one range of the matching
        index (``index_for``) from the cursor's start on, not the whole collection."""
        query = db.Appointment.find(find_filter(where, after), hint=index_for(where))
        docs = await query.sort(LIST_ORDER).limit(limit).to_list()
        return [from_document(d) for d in docs]

    async def count(self, where: AppointmentFilter) -> int:
        """How many appointments match ``where``: the same index range as ``find``."""
        query = db.Appointment.find(find_filter(where, None), hint=index_for(where))
        return await query.count()

    async def commit(self, change: Change) -> Appointment:
        """Write state, event and outbox row atomically, and return the stored state.

        Idempotent by the event id: if the event is already stored (a retried activity
        whose first attempt committed), nothing is written and the stored state is
        returned. Optimistic concurrency: an update applies only while the stored
        ``version`` is still ``change.expected_version``; otherwise ConcurrencyConflict.
        An overlap with another active appointment raises SlotUnavailable. A state this
        commit wrote is answered as stored (``as_stored``), not read back."""

        def duplicate(error: DuplicateKeyError) -> DomainError:
            if db.NO_OVERLAP_INDEX in str(error):
                return SlotUnavailable("the doctor already has an appointment at this time")
            return ConcurrencyConflict("the appointment already exists")

        state = to_document(change.state)
        if await commit_once(self._client, self._writes(change, state), duplicate):
            return from_document(as_stored(self._client, state))
        stored = await self.get(change.state.id)  # a retry: the state as it is now
        assert stored is not None, "a committed appointment must be readable"
        return stored

    def _writes(self, change: Change, state: db.Appointment) -> Writes:
        return Writes(
            state=state,
            expected_version=change.expected_version,
            event=event_to_document(change.event),
            outbox=outbox_row(change.event, change.state, self._topic),
            subject_field="appointment_id",
            what="appointment",
        )


def index_for(where: AppointmentFilter) -> str | None:
    """The index a list query reads. Named, because the cursor's ``$or`` keeps some
    planners (the local wire-protocol server's) from choosing it; each is (field, start)
    in persistence/documents.py. None (no criterion): a collection scan."""
    if where.doctor_id is not None:
        return "doctor_start"
    if where.patient_id is not None:
        return "patient_start"
    if where.statuses:
        return "status_start"
    return None


def find_filter(where: AppointmentFilter, after: tuple[datetime, str] | None) -> dict[str, Any]:
    """The MongoDB filter of ``find`` (tests explain it to see which index it uses)."""
    query: dict[str, Any] = {}
    if where.doctor_id is not None:
        query["doctor_id"] = where.doctor_id
    if where.patient_id is not None:
        query["patient_id"] = where.patient_id
    if where.statuses:
        query["status"] = {"$in": sorted(s.value for s in where.statuses)}
    lower = [i for i in (where.start_from, after[0] if after else None) if i is not None]
    start: dict[str, datetime] = {}
    if lower:
        start["$gte"] = max(lower)
    if where.start_to is not None:
        start["$lt"] = where.start_to
    if start:
        query["start"] = start
    if after is not None:
        # start >= last start (above) bounds the index scan; this excludes what was seen.
        last_start, last_id = after
        query["$or"] = [{"start": {"$gt": last_start}}, {"_id": {"$gt": last_id}}]
    return query
