"""From a CloudEvent to the audit document and the aggregate update. Pure: no I/O.

An event that breaks its contract is still audited (``valid: false`` with its violations): the audit
trail records what was delivered, not what should have been. It is counted in the live aggregates only
when it still names a known event type, a job id and a job type, because the job did move even if a
producer sent a malformed field; whatever cannot be attributed to a job is audited and not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from functions.core.cloudevents import CORRELATION, CloudEvent
from functions.core.jobs import EventType, canonical_uuid
from functions.core.times import parse_rfc3339

JOB_ID_EXT = "jobid"
JOB_TYPE_EXT = "jobtype"


class Contracts(Protocol):
    """The part of ``ContractRegistry`` the aggregator needs (a protocol so vectors can use a stub)."""

    def validate(self, schema_id_or_name: str, instance: object, /) -> list[Any]: ...
    def event_schema_id(self, event_type: str, /) -> str: ...


@dataclass(frozen=True)
class Count:
    """What ``Aggregates.apply`` needs to count one event."""

    source: str
    event_id: str
    event_type: EventType
    job_id: str
    job_type: str
    time_ms: int


@dataclass(frozen=True)
class Outcome:
    document: dict[str, Any]
    count: Count | None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _violation(pointer: str, message: str) -> dict[str, str]:
    return {"pointer": pointer, "message": message}


def check(attrs: dict[str, Any], data: object, contracts: Contracts) -> list[dict[str, str]]:
    """Every way this event breaks its contract: the data schema named by ``dataschema`` (else by type),
    plus the agreements between attributes and data (same job id and job type in both)."""
    event_type = str(attrs.get("type", ""))
    declared = _text(attrs.get("dataschema"))
    violations: list[dict[str, str]] = []
    try:
        expected: str | None = contracts.event_schema_id(event_type)
    except LookupError:
        expected = None
        violations.append(_violation("", f"no contract declares event type {event_type!r}"))
    schema = declared or expected
    # An older or newer version of the same contract is fine; another contract is not.
    if declared and expected and declared.rsplit("/", 1)[0] != expected.rsplit("/", 1)[0]:
        violations.append(
            _violation("/dataschema", f"{declared} is not a schema of {event_type} (expected {expected})")
        )
        schema = expected
    if schema:
        try:
            found = contracts.validate(schema, data)
        except LookupError:
            violations.append(_violation("/dataschema", f"unknown schema {schema}"))
        else:
            violations.extend(_violation(v.pointer, v.message) for v in found)
    if isinstance(data, dict):
        ext_job, data_job = _text(attrs.get(JOB_ID_EXT)), _text(data.get("jobId"))
        if ext_job and data_job and canonical_uuid(ext_job) != canonical_uuid(data_job):
            violations.append(_violation("/jobId", f"differs from the jobid extension {ext_job!r}"))
        ext_type, data_type = _text(attrs.get(JOB_TYPE_EXT)), _text(data.get("type"))
        if ext_type and data_type and ext_type != data_type:
            violations.append(_violation("/type", f"differs from the jobtype extension {ext_type!r}"))
    return violations


def audit(event: CloudEvent, contracts: Contracts, received_at: datetime) -> Outcome:
    """The job_events document for ``event`` and, when it can be attributed, what to count."""
    attrs: dict[str, Any] = dict(event.get_attributes())
    data = event.get_data()
    body = data if isinstance(data, dict) else {}
    violations = check(attrs, data, contracts)
    job_id = canonical_uuid(attrs.get(JOB_ID_EXT)) or canonical_uuid(body.get("jobId"))
    job_type = _text(attrs.get(JOB_TYPE_EXT)) or _text(body.get("type"))
    event_time = parse_rfc3339(attrs.get("time"))
    if attrs.get("time") is not None and event_time is None:
        violations.append(_violation("/time", f"{attrs.get('time')!r} is not an RFC 3339 timestamp"))
    when = event_time or received_at
    document: dict[str, Any] = {
        "source": str(attrs["source"]),
        "id": str(attrs["id"]),
        "type": str(attrs["type"]),
        "time": when,
        "jobid": job_id,
        "jobtype": job_type,
        "correlationid": _text(attrs.get(CORRELATION)),
        "dataschema": _text(attrs.get("dataschema")),
        "data": data
        if isinstance(data, dict | list | str | int | float | bool) or data is None
        else str(data),
        "receivedAt": received_at,
        "valid": not violations,
    }
    if violations:
        document["violations"] = violations
    count = None
    if job_id and job_type and attrs["type"] in EventType._value2member_map_:
        count = Count(
            source=document["source"], event_id=document["id"], event_type=EventType(attrs["type"]),
            job_id=job_id, job_type=job_type, time_ms=int(when.timestamp() * 1000),
        )  # fmt: skip
    return Outcome(document, count)
