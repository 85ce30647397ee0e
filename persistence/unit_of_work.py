"""How both units of work commit (``AppointmentStore``, ``WaitlistStore``): state, event
and outbox row in one MongoDB transaction, idempotent by the event id, optimistic on the
state's ``version``. Each store says what it writes; this says how a commit is decided."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from beanie import Document
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from domain.errors import ConcurrencyConflict, DomainError


class AlreadyApplied(Exception):
    """The change's event is already stored: a retry of a committed change."""


async def commit_once(
    client: AsyncMongoClient[Any],
    write: Callable[[AsyncClientSession], Awaitable[None]],
    event_stored: Callable[[], Awaitable[bool]],
    duplicate: Callable[[DuplicateKeyError], DomainError],
) -> None:
    """Run ``write`` in one transaction, once. ``write`` raises ``AlreadyApplied`` when it
    finds its event stored (nothing is written again) and ``ConcurrencyConflict`` when
    the stored version is not the expected one. A conflict or a duplicate key is no error
    when the change's event is stored after all (a concurrent retry of this same change
    committed first); any other duplicate key is refused as ``duplicate`` names it."""
    async with client.start_session() as session:
        try:
            await session.with_transaction(write)
        except AlreadyApplied:
            pass
        except DuplicateKeyError as error:
            if not await event_stored():
                raise duplicate(error) from error
        except ConcurrencyConflict:
            if not await event_stored():
                raise


def ensure_not_replayed(known_subject: str | None, subject: str) -> None:
    """Before a write: the change's event id is stored already (``known_subject``, the
    id of what that event changed). The same subject: a retry, ``AlreadyApplied``. Another:
    the key once made a change to something else (reused after Temporal forgot the first
    run), never to be reported as this change."""
    if known_subject is None:
        return
    if known_subject != subject:
        raise ConcurrencyConflict("this idempotency key was used for another change")
    raise AlreadyApplied


async def put_versioned(
    session: AsyncClientSession,
    document: Document,
    expected_version: int | None,
    what: str,
) -> None:
    """Insert ``document`` (``expected_version`` None: a new one), or replace the stored
    one only while its ``version`` is still ``expected_version``."""
    if expected_version is None:
        await document.insert(session=session)
        return
    result = (
        await type(document)
        .get_pymongo_collection()
        .replace_one(
            {"_id": document.id, "version": expected_version},
            document.model_dump(by_alias=True),
            session=session,
        )
    )
    if result.matched_count == 0:
        raise ConcurrencyConflict(
            f"{what} {document.id} changed since version {expected_version}; reload and retry"
        )
