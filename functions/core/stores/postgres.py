"""PostgreSQL: a pooled async connection pool and the job repository (authoritative job state).

Every write is a single statement whose WHERE clause enforces the forward-only rule of
``functions.core.jobs``, so concurrent or repeated deliveries cannot move a job backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from functions.core.errors import StoreError
from functions.core.jobs import JobStatus


def make_pool(url: str, *, max_size: int = 10, name: str = "observatory") -> AsyncConnectionPool:
    """A pool that is opened by the caller's ``start`` (``await pool.open(wait=True)``), never at import."""
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        name=name,
        kwargs={"autocommit": True, "row_factory": dict_row},
    )


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to start a job: ``won`` means this delivery runs it."""

    won: bool
    status: JobStatus
    attempts: int
    generation: int


_CLAIM = """
INSERT INTO jobs AS j (id, type, status, status_rank, payload, correlation_id, submit_event_id,
                       attempts, generation, started_at, lease_until)
VALUES (%(id)s, %(type)s, 'EXECUTING', 1, %(payload)s, %(cid)s, %(eid)s, 1, %(gen)s, now(),
        now() + make_interval(secs => %(lease)s))
ON CONFLICT (id) DO UPDATE
   SET status = 'EXECUTING', status_rank = 1, attempts = j.attempts + 1,
       started_at = coalesce(j.started_at, now()), updated_at = now(),
       lease_until = now() + make_interval(secs => %(lease)s),
       correlation_id = coalesce(j.correlation_id, EXCLUDED.correlation_id)
 WHERE j.generation = EXCLUDED.generation
   AND (j.status_rank = 0 OR (j.status_rank = 1 AND (j.lease_until IS NULL OR j.lease_until < now())))
RETURNING status, attempts, generation
"""

_FINISH = """
INSERT INTO jobs AS j (id, type, status, status_rank, payload, correlation_id, result, error,
                       generation, finished_at)
VALUES (%(id)s, %(type)s, %(status)s, 2, %(payload)s, %(cid)s, %(result)s, %(error)s, %(gen)s, now())
ON CONFLICT (id) DO UPDATE
   SET status = EXCLUDED.status, status_rank = 2, result = EXCLUDED.result, error = EXCLUDED.error,
       finished_at = now(), updated_at = now(), lease_until = NULL,
       correlation_id = coalesce(j.correlation_id, EXCLUDED.correlation_id)
 WHERE j.status_rank < 2 AND j.generation <= EXCLUDED.generation
RETURNING status
"""


class JobRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _one(self, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(sql, params)
                row = await cur.fetchone()
                return row  # type: ignore[return-value]
        except psycopg.Error as exc:
            raise StoreError("postgresql", str(exc).strip()) from exc

    async def ping(self) -> bool:
        try:
            return (await self._one("SELECT 1 AS ok", {})) is not None
        except StoreError:
            return False

    async def get(self, job_id: str) -> dict[str, Any] | None:
        return await self._one("SELECT * FROM jobs WHERE id = %(id)s", {"id": job_id})

    async def record_pending(
        self, job_id: str, job_type: str, payload: Any, correlation_id: str | None, event_id: str
    ) -> bool:
        """Insert the job as PENDING; False when it already existed (then nothing changes)."""
        row = await self._one(
            """INSERT INTO jobs (id, type, status, status_rank, payload, correlation_id, submit_event_id)
               VALUES (%(id)s, %(type)s, 'PENDING', 0, %(payload)s, %(cid)s, %(eid)s)
               ON CONFLICT (id) DO NOTHING RETURNING id""",
            {
                "id": job_id,
                "type": job_type,
                "payload": Jsonb(payload),
                "cid": correlation_id,
                "eid": event_id,
            },
        )
        return row is not None

    async def inserted_by_claim(self, job_id: str, event_id: str) -> bool:
        """True when the job's row was created by a claim of the event ``event_id``.

        That is the processor running a just-published job before the gateway recorded it as PENDING: the
        claim's insert stamps ``created_at`` and ``started_at`` with the same statement time, while a row
        the gateway recorded first is claimed by a later statement.
        """
        row = await self._one(
            """SELECT 1 AS yes FROM jobs
               WHERE id = %(id)s AND submit_event_id = %(eid)s AND started_at = created_at""",
            {"id": job_id, "eid": event_id},
        )
        return row is not None

    async def claim(
        self,
        job_id: str,
        job_type: str,
        payload: Any,
        *,
        correlation_id: str | None,
        event_id: str | None,
        lease_seconds: float,
        generation: int = 0,
    ) -> Claim:
        params = {
            "id": job_id, "type": job_type, "payload": Jsonb(payload), "cid": correlation_id,
            "eid": event_id, "gen": generation, "lease": lease_seconds,
        }  # fmt: skip
        row = await self._one(_CLAIM, params)
        if row is not None:
            return Claim(True, JobStatus(row["status"]), row["attempts"], row["generation"])
        current = await self.get(job_id)
        if current is None:  # pragma: no cover - the insert above cannot lose the row
            raise StoreError("postgresql", f"job {job_id} vanished during claim")
        return Claim(False, JobStatus(current["status"]), current["attempts"], current["generation"])

    async def finish(
        self,
        job_id: str,
        job_type: str,
        status: JobStatus,
        *,
        result: Any = None,
        error: Any = None,
        payload: Any = None,
        correlation_id: str | None = None,
        generation: int = 0,
    ) -> bool:
        """Move a job to a terminal status; False when it was already terminal (first terminal wins)."""
        if not status.terminal:
            raise ValueError(f"{status} is not terminal")
        row = await self._one(
            _FINISH,
            {
                "id": job_id, "type": job_type, "status": status.value, "payload": Jsonb(payload or {}),
                "cid": correlation_id, "result": None if result is None else Jsonb(result),
                "error": None if error is None else Jsonb(error), "gen": generation,
            },
        )  # fmt: skip
        return row is not None

    async def renew_lease(self, job_id: str, generation: int, seconds: float) -> bool:
        """Extend a running job's lease to at least ``seconds`` from now.

        False when the job is no longer EXECUTING in that generation (it finished, or an operator replayed
        it): the caller stops renewing. The lease never moves backwards, so a late renewal cannot shorten
        one a concurrent claim has just set.
        """
        row = await self._one(
            """UPDATE jobs SET lease_until = greatest(lease_until, now() + make_interval(secs => %(lease)s))
               WHERE id = %(id)s AND status_rank = 1 AND generation = %(gen)s RETURNING id""",
            {"id": job_id, "gen": generation, "lease": seconds},
        )
        return row is not None

    async def release(self, job_id: str, error: Any) -> None:
        """A retryable failure: keep EXECUTING, record the error and let the next delivery claim it."""
        await self._one(
            """UPDATE jobs SET lease_until = now(), error = %(error)s, updated_at = now()
               WHERE id = %(id)s AND status_rank = 1 RETURNING id""",
            {"id": job_id, "error": Jsonb(error)},
        )

    async def restart_generation(self, job_id: str) -> int | None:
        """An operator's replay: start a new generation as PENDING. Returns it, or None if no such job."""
        row = await self._one(
            """UPDATE jobs SET generation = generation + 1, status = 'PENDING', status_rank = 0,
                      result = NULL, error = NULL, lease_until = NULL, finished_at = NULL, updated_at = now()
               WHERE id = %(id)s RETURNING generation""",
            {"id": job_id},
        )
        return None if row is None else int(row["generation"])
