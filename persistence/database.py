"""Connecting to MongoDB and initialising Beanie (which also creates the indexes)."""

from __future__ import annotations

from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient

from config import Settings
from persistence.documents import DOCUMENT_MODELS


async def connect(settings: Settings) -> AsyncMongoClient[Any]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongo_uri, tz_aware=True)
    await init_beanie(
        database=client[settings.mongo_database],
        document_models=DOCUMENT_MODELS,
    )
    return client
