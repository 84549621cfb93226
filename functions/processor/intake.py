"""Pure check of an incoming job.submitted event against the contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from functions.core.cloudevents import CORRELATION, CloudEvent, extension
from functions.core.contracts import ContractRegistry, UnknownJobTypeError
from functions.core.errors import FieldError
from functions.core.jobs import EventType, canonical_uuid
from functions.processor.events import JobRef

SUBMITTED_SCHEMA = "events/job-submitted"


@dataclass(frozen=True)
class Invalid:
    """Why an event cannot be run. ``job_id`` is set only when the job can safely be marked FAILED."""

    errors: list[FieldError]
    job_id: str | None = None
    job_type: str = "unknown"
    payload: dict[str, Any] = field(default_factory=dict)
    generation: int = 0

    @property
    def message(self) -> str:
        return "; ".join(f"{e.pointer or '/'}: {e.message}" for e in self.errors)[:10000]


def check_submitted(contracts: ContractRegistry, event: CloudEvent) -> JobRef | Invalid:
    attrs = event.get_attributes()
    if attrs.get("type") != EventType.SUBMITTED.value:
        # Not ours (a trigger mistake): never let it fail a job that may be running fine.
        return Invalid(
            [FieldError("/type", f"expected {EventType.SUBMITTED.value}, got {attrs.get('type')!r}")]
        )
    data = event.get_data()
    if not isinstance(data, dict):
        job_id = canonical_uuid(extension(event, "jobid"))
        return Invalid([FieldError("/data", "the data must be a JSON object")], job_id=job_id)
    errors = [FieldError("/data" + v.pointer, v.message) for v in contracts.validate(SUBMITTED_SCHEMA, data)]
    job_type = data.get("type")
    payload = data.get("payload")
    if isinstance(job_type, str) and isinstance(payload, dict):
        try:
            schema = contracts.payload_schema_id(job_type)
        except UnknownJobTypeError as exc:
            errors.append(FieldError("/data/type", str(exc)))
        else:
            errors += [
                FieldError("/data/payload" + v.pointer, v.message)
                for v in contracts.validate(schema, payload)
            ]
    generation = data.get("generation")
    generation = generation if isinstance(generation, int) and not isinstance(generation, bool) else 0
    if errors:
        return Invalid(
            sorted(errors, key=lambda e: (e.pointer, e.message)),
            job_id=canonical_uuid(data.get("jobId")) or canonical_uuid(extension(event, "jobid")),
            job_type=job_type if isinstance(job_type, str) and job_type else "unknown",
            payload=payload if isinstance(payload, dict) else {},
            generation=max(generation, 0),
        )
    return JobRef(
        job_id=str(data["jobId"]),
        job_type=str(job_type),
        payload=dict(payload) if isinstance(payload, dict) else {},
        generation=generation,
        correlation_id=extension(event, CORRELATION),
        event_id=str(attrs["id"]),
    )
