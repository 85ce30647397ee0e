"""The unit of work against a real MongoDB wire-protocol server (SecantusDB).

ONE server per session, started on a free port in a temporary directory; each test gets
a database of its own. ``init_beanie`` binds the document classes to one database for the
whole process, so the binding is redone per test and the tests must run one at a time
(pytest's default).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from config import load_settings
from persistence.database import connect
from persistence.store import AppointmentStore

TOPIC = "appointment.events"


@dataclass(frozen=True)
class Collections:
    """The raw collections, read past Beanie, so counts see exactly what was written."""

    appointments: AsyncCollection[dict[str, Any]]
    events: AsyncCollection[dict[str, Any]]
    outbox: AsyncCollection[dict[str, Any]]

    async def counts(self) -> tuple[int, int, int]:
        return (
            await self.appointments.count_documents({}),
            await self.events.count_documents({}),
            await self.outbox.count_documents({}),
        )


@dataclass(frozen=True)
class Database:
    store: AppointmentStore
    raw: Collections


@pytest.fixture
async def database(mongo_uri: str) -> AsyncIterator[Database]:
    name = f"store_test_{uuid.uuid4().hex[:12]}"
    client: AsyncMongoClient[Any] = await connect(
        load_settings(mongo_uri=mongo_uri, mongo_database=name)
    )
    try:
        db = client[name]
        yield Database(
            store=AppointmentStore(client, TOPIC),
            raw=Collections(
                appointments=db["appointments"],
                events=db["appointment_events"],
                outbox=db["outbox_events"],
            ),
        )
        await client.drop_database(name)
    finally:
        await client.close()
