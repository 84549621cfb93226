"""The read model's queries against the stores (I/O); shaping lives in views/timeline/queries."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from pymongo.errors import PyMongoError

from functions.core.errors import NotFound, StoreError
from functions.readmodel import views
from functions.readmodel.params import EventQuery, JobQuery, encode_cursor
from functions.readmodel.queries import changed_jobs_sql, events_filter, jobs_sql, newest_first
from functions.readmodel.resources import RUNTIME_TIMEOUT_S, ReadModelResources
from functions.readmodel.timeline import timeline

THROUGHPUT_WINDOW_S = 60
TIMELINE_EVENT_CAP = 1000  # a job has a handful of events; cap what one request can pull


async def fetch_all(
    resources: ReadModelResources, sql: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    try:
        async with resources.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            rows: list[dict[str, Any]] = await cur.fetchall()  # type: ignore[assignment]
            return rows
    except psycopg.Error as exc:
        raise StoreError("postgresql", str(exc).strip()) from exc


async def list_jobs(resources: ReadModelResources, query: JobQuery) -> dict[str, Any]:
    sql, params = jobs_sql(query)
    rows = await fetch_all(resources, sql, params)
    page = rows[: query.limit]
    more = len(rows) > query.limit
    last = page[-1] if page else None
    return {
        "items": [views.job_summary(r) for r in page],
        "nextCursor": encode_cursor(last["created_at"], str(last["id"])) if more and last else None,
        "limit": query.limit,
    }


async def get_job(resources: ReadModelResources, job_id: str) -> dict[str, Any]:
    row = await resources.jobs.get(job_id)
    if row is None:
        raise NotFound(f"no job {job_id}")
    return views.job_detail(row)


async def changed_jobs(resources: ReadModelResources, since: datetime) -> list[dict[str, Any]]:
    sql, params = changed_jobs_sql(since)
    return await fetch_all(resources, sql, params)


async def _find(
    collection: Any, filter_: dict[str, Any], sort: list[tuple[str, int]], limit: int
) -> list[Any]:
    try:
        cursor = collection.find(filter_).sort(sort).limit(limit)
        return list(await cursor.to_list(length=limit))
    except PyMongoError as exc:
        raise StoreError("mongodb", str(exc)) from exc


async def list_events(resources: ReadModelResources, query: EventQuery) -> dict[str, Any]:
    docs = await _find(resources.audit.events, events_filter(query), newest_first(), query.limit + 1)
    return _page(docs, query.limit, "time", views.event_view)


async def list_dead_letters(resources: ReadModelResources, query: EventQuery) -> dict[str, Any]:
    filter_ = events_filter(query, time_field="receivedAt")
    docs = await _find(resources.audit.dead_letters, filter_, newest_first("receivedAt"), query.limit + 1)
    return _page(docs, query.limit, "receivedAt", views.dead_letter_view)


def _page(docs: list[Any], limit: int, time_field: str, view: Any) -> dict[str, Any]:
    page = docs[:limit]
    last = page[-1] if page else None
    more = len(docs) > limit and last is not None and isinstance(last.get(time_field), datetime)
    return {
        "items": [view(d) for d in page],
        "nextCursor": encode_cursor(last[time_field], str(last["_id"])) if more and last else None,
        "limit": limit,
    }


async def job_timeline(resources: ReadModelResources, job_id: str) -> dict[str, Any]:
    row = await resources.jobs.get(job_id)
    events = await _find(
        resources.audit.events, {"jobid": job_id}, [("time", 1), ("_id", 1)], TIMELINE_EVENT_CAP
    )
    letters = await _find(
        resources.audit.dead_letters,
        {"$or": [{"jobid": job_id}, {"data.jobId": job_id}]},
        [("receivedAt", 1)],
        TIMELINE_EVENT_CAP,
    )
    markers = await resources.aggregates.job_markers(job_id)
    if row is None and not events and not letters and not markers:
        raise NotFound(f"no job {job_id} in any store")
    return timeline(job_id, row, events, markers, letters, datetime.now(UTC))


async def stats(resources: ReadModelResources, runtime: dict[str, Any] | None = None) -> dict[str, Any]:
    """Redis only (plus the runtime's admin JSON when configured): O(1) in the number of jobs."""
    now_s = int(time.time())
    found = await resources.aggregates.stats(now_s, THROUGHPUT_WINDOW_S)
    per_second = [count for _, count in found.throughput]
    totals: dict[str, int] = {status: found.by_status.get(status, 0) for status in _STATUSES}
    body: dict[str, Any] = {
        "totals": {**totals, "total": found.total},
        "byType": dict(sorted(found.by_type.items())),
        "throughput": {
            "perSecond": per_second,
            "lastMinute": sum(per_second),
            "windowEnd": views.iso_ms(now_s * 1000),
        },
        "latencyMs": found.latency_ms,
        "lastEventTime": views.iso_ms(found.last_event_ms),
        "deadLetters": found.dead_letters,
    }
    if runtime is not None:
        body["runtime"] = runtime
    return body


_STATUSES = ("PENDING", "EXECUTING", "COMPLETED", "FAILED", "DEAD_LETTERED")


class RuntimeProbe:
    """The runtime's admin JSON, fetched at most once a second (every SSE client asks every second)."""

    def __init__(self, resources: ReadModelResources, url: str | None, max_age_s: float = 1.0) -> None:
        self.resources = resources
        self.url = url
        self.max_age_s = max_age_s
        self._at = 0.0
        self._value: dict[str, Any] | None = None

    async def get(self) -> dict[str, Any] | None:
        if self.url is None:
            return None
        now = time.monotonic()
        if now - self._at < self.max_age_s:
            return self._value
        self._at = now
        try:
            response = await self.resources.http.get(self.url, timeout=RUNTIME_TIMEOUT_S)
            value = response.json() if response.status_code == 200 else None
            self._value = value if isinstance(value, dict) else None
        except (httpx.HTTPError, ValueError):  # an optional extra: any failure means "omit it"
            self._value = None
        return self._value
