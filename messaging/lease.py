"""One active relay at a time: a lease document in MongoDB, taken and renewed by
compare-and-set.

Two relays publishing the same rows would not lose anything, but they would double the
duplicates and, worse, race each other on one appointment's events, so only the holder of
the lease publishes; any other instance waits as a standby and takes over when the lease
lapses (a crash) or is handed back (a graceful stop).

Clocks: SecantusDB does not evaluate ``$$NOW`` in query filters, so expiry compares the
relays' own UTC clocks. A relay also stops trusting its lease locally (monotonic clock)
``ttl`` after it last renewed it, so a relay cut off from MongoDB stops publishing about
when another may take over. Clock skew between relay hosts beyond that margin can make
two relays overlap briefly: that costs duplicates, never lost events.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from domain.clock import now_utc

LEASE_COLLECTION = "relay_leases"
RELAY_LEASE = "outbox-relay"
LEASE_SECONDS = 10.0

_LAPSED = datetime(1970, 1, 1, tzinfo=UTC)


def default_owner() -> str:
    """host:pid:random, unique per process, readable in the lease document."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        *,
        owner: str,
        name: str = RELAY_LEASE,
        ttl_seconds: float = LEASE_SECONDS,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._leases = collection
        self.owner = owner
        self._name = name
        self._ttl = ttl_seconds
        self._clock = clock
        self._valid_until = 0.0  # time.monotonic() after which we no longer trust it

    @property
    def held(self) -> bool:
        return time.monotonic() < self._valid_until

    @property
    def renew_every(self) -> float:
        """Renewing three times per ttl leaves two chances to succeed before it lapses."""
        return self._ttl / 3

    async def acquire(self) -> bool:
        """Take the lease if it is free or lapsed, or renew it if it is ours. True if held."""
        asked_at = time.monotonic()
        now = self._clock()
        try:
            doc = await self._leases.find_one_and_update(
                {"_id": self._name, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=self._ttl)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            doc = None  # the lease exists, is someone else's and has not lapsed
        if doc is not None and doc.get("owner") == self.owner:
            self._valid_until = asked_at + self._ttl
            return True
        self._valid_until = 0.0
        return False

    async def holder(self) -> str | None:
        doc = await self._leases.find_one({"_id": self._name})
        return None if doc is None else str(doc.get("owner"))

    async def keep(self) -> None:
        """Renew (or try to take) the lease every ``renew_every`` seconds, forever; log
        each change between active and standby. Cancel the task to stop."""
        was_held: bool | None = None
        while True:
            try:
                held = await self.acquire()
            except PyMongoError as error:
                held = self.held  # keep trusting it until the local deadline passes
                logger.warning("relay lease not renewed: {}", error)
            if held != was_held:
                if held:
                    logger.info("relay {} is active (holds the lease)", self.owner)
                else:
                    holder = await self._holder_or_unknown()
                    logger.info("relay {} is standby; the lease is {}'s", self.owner, holder)
                was_held = held
            await asyncio.sleep(self.renew_every)

    async def release(self) -> None:
        """Hand the lease back so a standby takes over at once (graceful stop)."""
        self._valid_until = 0.0
        try:
            await self._leases.update_one(
                {"_id": self._name, "owner": self.owner}, {"$set": {"expires_at": _LAPSED}}
            )
        except PyMongoError as error:
            logger.warning("relay lease not released (it will lapse): {}", error)

    async def _holder_or_unknown(self) -> str:
        try:
            return await self.holder() or "nobody"
        except PyMongoError:
            return "unknown"
