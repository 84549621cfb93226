"""MongoDB: the event-sourced audit trail (``job_events``) and the dead letters (``dead_letters``).

Writes are group-committed: concurrent requests put their documents on a queue, one writer flushes them
with a single unordered ``insert_many`` and then wakes every waiter. A request still answers only after
its own document is stored, so at-least-once holds, while the MongoDB-wire server sees a few large
batches instead of many single inserts. Duplicates (same CloudEvent source+id) are ignored through a
unique index, which makes redelivery idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import BulkWriteError, PyMongoError

from functions.core.errors import StoreError

DUPLICATE_KEY = 11000


class BatchWriter:
    """Group commit for one collection: ``await write(doc)`` returns True if new, False if a duplicate."""

    def __init__(self, collection: Any, *, max_batch: int = 500, linger_s: float = 0.002) -> None:
        self.collection = collection
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[bool]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="mongo-batch-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def write(self, document: dict[str, Any]) -> bool:
        self.start()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((document, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self.linger_s:
                await asyncio.sleep(self.linger_s)
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._flush(batch)

    async def _flush(self, batch: list[tuple[dict[str, Any], asyncio.Future[bool]]]) -> None:
        docs = [doc for doc, _ in batch]
        duplicates: set[int] = set()
        error: Exception | None = None
        try:
            await self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            write_errors = exc.details.get("writeErrors", [])
            duplicates = {e["index"] for e in write_errors if e.get("code") == DUPLICATE_KEY}
            if len(duplicates) != len(write_errors):
                error = StoreError("mongodb", str(exc.details.get("writeErrors", exc))[:500])
        except PyMongoError as exc:
            error = StoreError("mongodb", str(exc))
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(index not in duplicates)


class AuditStore:
    """``job_events`` (one document per CloudEvent) and ``dead_letters``."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.client = client
        self.db = client[database]
        self.events = self.db["job_events"]
        self.dead_letters = self.db["dead_letters"]
        self.event_writer = BatchWriter(self.events)

    @classmethod
    def connect(cls, url: str, database: str) -> AuditStore:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, serverSelectionTimeoutMS=3000, maxPoolSize=20, tz_aware=True
        )
        return cls(client, database)

    async def ensure_indexes(self) -> None:
        try:
            await self.events.create_index(
                [("source", ASCENDING), ("id", ASCENDING)], unique=True, name="source_id"
            )
            await self.events.create_index([("jobid", ASCENDING), ("time", ASCENDING)], name="job_time")
            await self.events.create_index([("time", DESCENDING)], name="time_desc")
            await self.events.create_index([("type", ASCENDING), ("time", DESCENDING)], name="type_time")
            await self.dead_letters.create_index(
                [("source", ASCENDING), ("id", ASCENDING)], unique=True, name="source_id"
            )
            await self.dead_letters.create_index([("jobid", ASCENDING)], name="jobid")
            await self.dead_letters.create_index([("receivedAt", DESCENDING)], name="received_desc")
        except PyMongoError as exc:
            raise StoreError("mongodb", str(exc)) from exc

    async def ping(self) -> bool:
        try:
            await self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    async def append_event(self, document: dict[str, Any]) -> bool:
        return await self.event_writer.write(document)

    async def add_dead_letter(self, document: dict[str, Any]) -> bool:
        try:
            await self.dead_letters.insert_one(document)
            return True
        except PyMongoError as exc:
            if getattr(exc, "code", None) == DUPLICATE_KEY:
                return False
            raise StoreError("mongodb", str(exc)) from exc

    async def close(self) -> None:
        await self.event_writer.stop()
        await self.client.close()
