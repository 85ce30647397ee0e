"""How both units of work commit (``AppointmentStore``, ``WaitlistStore``): state, event
and outbox row in one MongoDB transaction, idempotent by the event id, optimistic on the
state's ``version``. Each store says what it writes (``Writes``); this says how a commit
is decided."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beanie import Document
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from domain.errors import ConcurrencyConflict, DomainError


class _AlreadyApplied(Exception):
    """The change's event is already stored: a retry of a committed change."""


@dataclass(frozen=True, slots=True)
class Writes:
    """One change's three documents, and how its event names what it changed."""

    state: Document  # its ``version`` is the change's new one
    expected_version: int | None  # None: a new document
    event: Document  # its id is the change's event id
    outbox: Document
    subject_field: str  # the event document's field naming what it changed
    what: str  # "appointment", "waitlist entry": for the conflict's words

    @property
    def subject(self) -> str:
        return str(self.state.id)


async def commit_once(
    client: AsyncMongoClient[Any],
    writes: Writes,
    duplicate: Callable[[DuplicateKeyError], DomainError],
) -> None:
    """Write ``writes`` in one transaction, once.

    - The event id stored for this subject already: a retry, nothing is written.
    - Stored for another subject: a key reused (after Temporal forgot its first run),
      refused, never reported as this change.
    - The stored version is not the expected one: ``ConcurrencyConflict``.
    - A conflict or a duplicate key is no error when this change's event is stored after
      all (a concurrent retry of the same change committed first); any other duplicate
      key is refused as ``duplicate`` names it."""
    async with client.start_session() as session:
        try:
            await session.with_transaction(lambda s: _write(s, writes))
        except _AlreadyApplied:
            pass
        except DuplicateKeyError as error:
            if not await _event_stored(writes):
                raise duplicate(error) from error
        except ConcurrencyConflict:
            if not await _event_stored(writes):
                raise


async def _write(session: AsyncClientSession, writes: Writes) -> None:
    events = type(writes.event)
    known = await events.find_one({"_id": writes.event.id}, session=session)
    if known is not None:
        if getattr(known, writes.subject_field) != writes.subject:
            raise ConcurrencyConflict("this idempotency key was used for another change")
        raise _AlreadyApplied
    await _put_versioned(session, writes)
    await writes.event.insert(session=session)
    await writes.outbox.insert(session=session)


async def _put_versioned(session: AsyncClientSession, writes: Writes) -> None:
    """Insert the state (a new one), or replace the stored one only while its ``version``
    is still the expected one."""
    state, expected = writes.state, writes.expected_version
    if expected is None:
        await state.insert(session=session)
        return
    result = (
        await type(state)
        .get_pymongo_collection()
        .replace_one(
            {"_id": state.id, "version": expected}, state.model_dump(by_alias=True), session=session
        )
    )
    if result.matched_count == 0:
        raise ConcurrencyConflict(
            f"{writes.what} {state.id} changed since version {expected}; reload and retry"
        )


async def _event_stored(writes: Writes) -> bool:
    """This change's event is stored: its id, for this subject."""
    found = {"_id": writes.event.id, writes.subject_field: writes.subject}
    return await type(writes.event).find_one(found) is not None
