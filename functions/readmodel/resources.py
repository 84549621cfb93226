"""The read model's connections: opened once on the first request, closed on shutdown, pinged by /readyz."""

from __future__ import annotations

import logging

import httpx
from psycopg_pool import AsyncConnectionPool

from functions.core.errors import StoreError
from functions.core.settings import Settings
from functions.core.sink import Sink
from functions.core.stores.mongo import AuditStore
from functions.core.stores.postgres import JobRepository, make_pool
from functions.core.stores.redis import Aggregates

# Alertmanager and the runtime's admin port are optional extras: never let them hold a request long.
ALERTS_TIMEOUT_S = 2.0
RUNTIME_TIMEOUT_S = 0.5
log = logging.getLogger("observatory.readmodel")


class ReadModelResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: AsyncConnectionPool | None = None
        self._audit: AuditStore | None = None
        self._aggregates: Aggregates | None = None
        self._sink: Sink | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def pool(self) -> AsyncConnectionPool:
        assert self._pool is not None, "resources not started"
        return self._pool

    @property
    def jobs(self) -> JobRepository:
        return JobRepository(self.pool)

    @property
    def audit(self) -> AuditStore:
        assert self._audit is not None, "resources not started"
        return self._audit

    @property
    def aggregates(self) -> Aggregates:
        assert self._aggregates is not None, "resources not started"
        return self._aggregates

    @property
    def sink(self) -> Sink:
        assert self._sink is not None, "resources not started"
        return self._sink

    @property
    def http(self) -> httpx.AsyncClient:
        assert self._http is not None, "resources not started"
        return self._http

    async def start(self) -> None:
        s = self.settings
        self._pool = make_pool(s.database_url, max_size=s.pg_pool_max, name="readmodel")
        self._audit = AuditStore.connect(s.mongodb_url, s.mongodb_database)
        self._aggregates = Aggregates.connect(s.redis_url, s.redis_prefix)
        self._sink = Sink(s.k_sink)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(ALERTS_TIMEOUT_S, connect=ALERTS_TIMEOUT_S))
        # Do not wait for PostgreSQL here: the read model should answer /stats from Redis even while
        # PostgreSQL is down; queries that need it fail with 503 until it is back.
        await self._pool.open(wait=False)
        try:
            await self._audit.ensure_indexes()
        except StoreError as exc:  # the writers create them too; reads still work without
            log.warning("cannot ensure MongoDB indexes yet: %s", exc)

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._audit is not None:
            await self._audit.close()
        if self._aggregates is not None:
            await self._aggregates.close()
        if self._sink is not None:
            await self._sink.close()
        if self._http is not None:
            await self._http.aclose()

    async def ready(self) -> dict[str, bool]:
        return {
            "postgresql": await self.jobs.ping(),
            "mongodb": await self.audit.ping(),
            "redis": await self.aggregates.ping(),
        }
