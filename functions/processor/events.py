"""The events the processor emits: job.started (to K_SINK) and the job.completed / job.failed replies.

Ids are deterministic (``<jobId>.<phase>.<generation>``) so a redelivered request yields the same reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.cloudevents import CORRELATION, CloudEvent, build
from functions.core.contracts import ContractRegistry
from functions.core.jobs import EventType, reply_event_id
from functions.core.times import rfc3339

SOURCE = "/observatory/processor"


@dataclass(frozen=True)
class JobRef:
    """What the processor knows about the job of a valid job.submitted event."""

    job_id: str
    job_type: str
    payload: dict[str, Any]
    generation: int
    correlation_id: str | None
    event_id: str


def _event(
    contracts: ContractRegistry, event_type: EventType, job: JobRef, data: dict[str, Any]
) -> CloudEvent:
    return build(
        event_type.value,
        SOURCE,
        data,
        event_id=reply_event_id(job.job_id, event_type, job.generation),
        dataschema=contracts.event_schema_id(event_type.value),
        extensions=extensions_of(job),
    )


def extensions_of(job: JobRef) -> dict[str, str]:
    extensions = {"jobid": job.job_id, "jobtype": job.job_type}
    if job.correlation_id:
        extensions[CORRELATION] = job.correlation_id
    return extensions


def started(contracts: ContractRegistry, job: JobRef, at: datetime, attempt: int) -> CloudEvent:
    data = {"jobId": job.job_id, "type": job.job_type, "startedAt": rfc3339(at), "attempt": attempt}
    return _event(contracts, EventType.STARTED, job, data)


def completed(
    contracts: ContractRegistry, job: JobRef, result: Any, started_at: datetime, completed_at: datetime
) -> CloudEvent:
    duration_ms = max(0.0, (completed_at - started_at).total_seconds() * 1000)
    data = {
        "jobId": job.job_id, "type": job.job_type, "result": result, "startedAt": rfc3339(started_at),
        "completedAt": rfc3339(completed_at), "durationMs": round(duration_ms, 3),
    }  # fmt: skip
    return _event(contracts, EventType.COMPLETED, job, data)


def failed(contracts: ContractRegistry, job: JobRef, error: dict[str, Any], at: datetime) -> CloudEvent:
    # The contract's error has exactly code, message and retryable.
    clean = {
        "code": str(error.get("code", "unknown")),
        "message": str(error.get("message", ""))[:10000],
        "retryable": bool(error.get("retryable", False)),
    }
    data = {"jobId": job.job_id, "type": job.job_type, "error": clean, "failedAt": rfc3339(at)}
    return _event(contracts, EventType.FAILED, job, data)


def reply_from_row(contracts: ContractRegistry, job: JobRef, row: dict[str, Any]) -> CloudEvent | None:
    """The reply of a job that already finished, rebuilt from its row (no rerun)."""
    finished = row.get("finished_at") or row.get("updated_at")
    started_at = row.get("started_at") or finished
    if row["status"] == "COMPLETED" and finished is not None and started_at is not None:
        return completed(contracts, job, row.get("result"), started_at, finished)
    if row["status"] == "FAILED" and finished is not None:
        return failed(contracts, job, row.get("error") or {}, finished)
    return None
