"""SQL and MongoDB queries of the read model, built from checked parameters. Pure: no I/O.

Every /jobs query is ``ORDER BY created_at DESC, id DESC`` with a keyset condition on the same pair, so
one of the migration 0001 indexes serves it at any depth (no OFFSET). The text search repeats the
trigram index expression of migration 0001 exactly; any other spelling would not match the index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from functions.readmodel.params import EventQuery, JobQuery
from functions.readmodel.views import LIST_COLUMNS

SEARCH_EXPRESSION = "(id::text || ' ' || type || ' ' || payload::text)"
ORDER = "ORDER BY created_at DESC, id DESC"


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own wildcards escaped, so ``50%`` searches for a literal percent sign."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def jobs_sql(query: JobQuery, columns: str = LIST_COLUMNS) -> tuple[str, dict[str, Any]]:
    """One page plus one row (the extra row says whether there is a next page)."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": query.limit + 1}
    if query.status is not None:
        where.append("status = %(status)s")
        params["status"] = query.status.value
    if query.job_type is not None:
        where.append("type = %(type)s")
        params["type"] = query.job_type
    if query.since is not None:
        where.append("created_at >= %(since)s")
        params["since"] = query.since
    if query.until is not None:
        where.append("created_at < %(until)s")
        params["until"] = query.until
    if query.q is not None:
        where.append(f"{SEARCH_EXPRESSION} ILIKE %(q)s")
        params["q"] = like_pattern(query.q)
    if query.after is not None:
        where.append("(created_at, id) < (%(after_at)s, %(after_id)s::uuid)")
        params["after_at"], params["after_id"] = query.after
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return f"SELECT {columns} FROM jobs {clause}{ORDER} LIMIT %(limit)s", params


def changed_jobs_sql(since: datetime, limit: int = 500) -> tuple[str, dict[str, Any]]:
    """Jobs updated after ``since`` (served by the updated_at index of migration 0003)."""
    sql = f"SELECT {LIST_COLUMNS} FROM jobs WHERE updated_at > %(since)s ORDER BY updated_at, id LIMIT %(limit)s"
    return sql, {"since": since, "limit": limit}


def events_filter(query: EventQuery, job_field: str = "jobid", time_field: str = "time") -> dict[str, Any]:
    found: dict[str, Any] = {}
    if query.job_id is not None:
        found[job_field] = query.job_id
    if query.event_type is not None:
        found["type"] = query.event_type
    if query.after is not None:
        when, key = query.after
        oid = ObjectId(key)
        found["$or"] = [{time_field: {"$lt": when}}, {time_field: when, "_id": {"$lt": oid}}]
    return found


def newest_first(time_field: str = "time") -> list[tuple[str, int]]:
    return [(time_field, -1), ("_id", -1)]
