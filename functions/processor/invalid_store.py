"""MongoDB collection ``invalid_events``: events the processor refused, kept for inspection.

Idempotent on the CloudEvent ``source``+``id`` (a unique index), so a redelivery stores nothing new.
The index is made on first use: the processor's hot path never needs MongoDB, and its readiness must
not depend on it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from functions.core.errors import StoreError

if TYPE_CHECKING:  # pymongo is imported lazily: it costs memory in every idle processor
    from pymongo import AsyncMongoClient

COLLECTION = "invalid_events"
DUPLICATE_KEY = 11000


class InvalidEvents:
    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        self._indexed = False
        self._lock = asyncio.Lock()

    async def _collection(self) -> Any:
        from pymongo import ASCENDING, AsyncMongoClient
        from pymongo.errors import PyMongoError

        async with self._lock:
            if self._client is None:
                self._client = AsyncMongoClient(self.url, serverSelectionTimeoutMS=3000, tz_aware=True)
            collection = self._client[self.database][COLLECTION]
            if not self._indexed:
                try:
                    await collection.create_index(
                        [("source", ASCENDING), ("id", ASCENDING)], unique=True, name="source_id"
                    )
                except PyMongoError as exc:
                    raise StoreError("mongodb", str(exc)) from exc
                self._indexed = True
        return collection

    async def keep(self, document: dict[str, Any]) -> bool:
        """Store the document; False when this source+id was already kept."""
        from pymongo.errors import PyMongoError

        collection = await self._collection()
        try:
            await collection.insert_one(dict(document))
        except PyMongoError as exc:
            if getattr(exc, "code", None) == DUPLICATE_KEY:
                return False
            raise StoreError("mongodb", str(exc)) from exc
        return True

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
