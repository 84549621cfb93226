"""Store records → the JSON the clients read (camelCase, RFC 3339 UTC times). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.core.jobs import canonical_uuid
from functions.core.times import rfc3339

# Columns of the list view: enough for a table row without shipping every result.
LIST_COLUMNS = "id, type, status, generation, attempts, correlation_id, error, created_at, updated_at, started_at, finished_at"


def iso(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def iso_ms(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else iso(datetime.fromtimestamp(epoch_ms / 1000, UTC))


def jsonable(value: Any) -> Any:
    """Mongo and PostgreSQL values (datetime, ObjectId, UUID, bytes) as plain JSON values."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)  # ObjectId, UUID, Decimal


def _duration_ms(row: Mapping[str, Any]) -> float | None:
    started, finished = row.get("started_at"), row.get("finished_at")
    if started is None or finished is None:
        return None
    delta: timedelta = finished - started
    return round(delta.total_seconds() * 1000, 3)


def job_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    error = row.get("error")
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "status": row["status"],
        "generation": row["generation"],
        "attempts": row["attempts"],
        "correlationId": row.get("correlation_id"),
        "errorCode": error.get("code") if isinstance(error, dict) else None,
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "startedAt": iso(row.get("started_at")),
        "finishedAt": iso(row.get("finished_at")),
        "durationMs": _duration_ms(row),
    }


def job_detail(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **job_summary(row),
        "payload": row.get("payload"),
        "result": row.get("result"),
        "error": row.get("error"),
        "submitEventId": row.get("submit_event_id"),
        "leaseUntil": iso(row.get("lease_until")),
    }


def event_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    view = {
        "id": doc.get("id"),
        "source": doc.get("source"),
        "type": doc.get("type"),
        "time": iso(doc.get("time")),
        "jobId": doc.get("jobid"),
        "jobType": doc.get("jobtype"),
        "correlationId": doc.get("correlationid"),
        "dataschema": doc.get("dataschema"),
        "data": jsonable(doc.get("data")),
        "receivedAt": iso(doc.get("receivedAt")),
        "valid": doc.get("valid", True),
    }
    if doc.get("violations"):
        view["violations"] = jsonable(doc["violations"])
    return view


def dead_letter_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Dead letters are stored by another function; show every member, with ``id`` as the Mongo _id."""
    rest = {k: v for k, v in doc.items() if k not in ("_id", "id", "jobid", "jobtype", "correlationid")}
    return {
        "id": str(doc["_id"]),
        "eventId": doc.get("id"),
        "jobId": doc.get("jobid") or _data_member(doc, "jobId"),
        "jobType": doc.get("jobtype") or _data_member(doc, "type"),
        "correlationId": doc.get("correlationid"),
        "replayCount": doc.get("replayCount", 0),
        **jsonable(rest),
    }


def _data_member(doc: Mapping[str, Any], name: str) -> Any:
    data = doc.get("data")
    return data.get(name) if isinstance(data, Mapping) else None


def valid_uuid(value: object) -> str | None:
    return canonical_uuid(value if isinstance(value, str) else str(value))
