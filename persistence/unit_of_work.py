"""How both units of work commit (``AppointmentStore``, ``WaitlistStore``): state, event
and outbox row in one MongoDB transaction, idempotent by the event id, optimistic on the
state's ``version``. Each store says what it writes (``Writes``); this says how a commit
is decided."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import bson
from beanie import Document
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from domain.errors import ConcurrencyConflict, DomainError

D = TypeVar("D", bound=Document)


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
) -> bool:
    """Write ``writes`` in one transaction, once; whether it wrote them (False: a retry
    of a change already applied, nothing written; ``as_stored`` is what it wrote).

    - The event id stored for this subject already: a retry, nothing is written.
    - Stored for another subject: a key reused (after Temporal forgot its first run),
      refused, never reported as this change.
    - The stored version is not the expected one: ``ConcurrencyConflict``.
    - Any other duplicate key is refused as ``duplicate`` names it.

    A stored event is recognised by the failure it causes, not by a read first: the
    event's insert cannot succeed beside it (its id is unique), so a transaction that
    commits wrote a new event, and one that fails looks the event up once, after the
    abort. A retry usually fails earlier, at the state (a stale version, or an existing
    id); either way the event, not the failing write, decides, as a read first would:
    a concurrent retry of the same change that committed first counts as applied too."""
    async with client.start_session() as session:
        try:
            await session.with_transaction(lambda s: _write(s, writes))
        except DuplicateKeyError as error:
            if await _already_applied(writes):
                return False
            raise duplicate(error) from error
        except ConcurrencyConflict:
            if await _already_applied(writes):
                return False
            raise
    return True


async def _write(session: AsyncClientSession, writes: Writes) -> None:
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


async def _already_applied(writes: Writes) -> bool:
    """This change's event is stored (True), none with its id is (False), or one is for
    another subject: a key reused, refused."""
    known = await type(writes.event).find_one({"_id": writes.event.id})
    if known is None:
        return False
    if getattr(known, writes.subject_field) != writes.subject:
        raise ConcurrencyConflict("this idempotency key was used for another change")
    return True


def as_stored(client: AsyncMongoClient[Any], state: D) -> D:
    """A state ``commit_once`` wrote, as a read of it right after the commit answers,
    without that read: through BSON and back with the client's codec options, as the
    server stores it (BSON dates keep milliseconds)."""
    options = client.codec_options
    raw = bson.decode(bson.encode(state.model_dump(by_alias=True), codec_options=options), options)
    stored: D = type(state).model_validate(raw)
    return stored
