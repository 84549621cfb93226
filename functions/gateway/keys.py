"""The ``submissions`` table: Idempotency-Keys the gateway has accepted, and the job each one named."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

from functions.core.errors import StoreError


@dataclass(frozen=True)
class KnownKey:
    job_id: str
    event_id: str


class SubmissionKeys:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def get(self, key: str) -> KnownKey | None:
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT job_id::text AS job_id, event_id FROM submissions WHERE idempotency_key = %s",
                    (key,),
                )
                row = await cur.fetchone()
        except psycopg.Error as exc:
            raise StoreError("postgresql", str(exc).strip()) from exc
        return None if row is None else KnownKey(row["job_id"], row["event_id"])  # type: ignore[call-overload]

    async def put(self, key: str, job_id: str, event_id: str) -> None:
        """Remember the key; the first job recorded under it stays its answer."""
        try:
            async with self.pool.connection() as conn:
                await conn.execute(
                    """INSERT INTO submissions (idempotency_key, job_id, event_id) VALUES (%s, %s, %s)
                       ON CONFLICT (idempotency_key) DO NOTHING""",
                    (key, job_id, event_id),
                )
        except psycopg.Error as exc:
            raise StoreError("postgresql", str(exc).strip()) from exc
