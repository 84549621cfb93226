"""Pure checks and shaping of a submission: auth, size, media type, correlation, validation, job id.

Nothing here does I/O; ``app.py`` reads the body, asks the stores and publishes. Every refusal is a
``ProblemError`` (400, 401, 413, 415 or 422 with one JSON pointer per violation).
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.core.cloudevents import BATCH, CORRELATION, STRUCTURED, CloudEvent, build
from functions.core.contracts import ContractRegistry, Violation
from functions.core.errors import (
    BadRequest,
    FieldError,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)
from functions.core.jobs import EventType, job_id_for_key, reply_event_id
from functions.core.times import rfc3339

SOURCE = "/observatory/gateway"
SUBMITTED_SCHEMA = "events/job-submitted"
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]{1,256}$")
# Attributes the gateway sets itself on the published event; the client's values are not kept.
_OWN_ATTRIBUTES = frozenset(
    {"id", "source", "specversion", "type", "datacontenttype", "dataschema", "time", "data",
     CORRELATION, "jobid", "jobtype"}
)  # fmt: skip
JSON_TYPES = ("application/json",)
EVENT_TYPES = ("application/json", STRUCTURED, BATCH)

NewId = Callable[[], str]


def check_auth(authorization: str | None, token: str | None) -> None:
    """With a token configured, require ``Authorization: Bearer <token>`` (constant-time compare)."""
    if token is None:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized(
            "the bearer token is not valid", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )


def declared_length(value: str | None, limit: int) -> int | None:
    """Refuse early from Content-Length, before reading a byte of the body."""
    if value is None:
        return None
    if not value.strip().isdigit():
        raise BadRequest(f"Content-Length {value!r} is not a number of bytes")
    length = int(value)
    if length > limit:
        raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit} bytes")
    return length


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def require_media(content_type: str | None, allowed: Sequence[str]) -> str:
    media = media_type(content_type)
    if media in allowed or (
        media.endswith("+json") and media not in (STRUCTURED, BATCH) and "application/json" in allowed
    ):
        return media
    raise UnsupportedMediaType(
        f"content type {media or '(none)'} is not accepted here; use {', '.join(allowed)}"
    )


def header_value(name: str, value: str | None) -> str | None:
    """A correlation id or idempotency key: 1-256 printable ASCII characters, no spaces."""
    if value is None:
        return None
    if not _HEADER_VALUE.match(value):
        raise BadRequest(f"{name} must be 1-256 printable ASCII characters without spaces")
    return value


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc


@dataclass(frozen=True)
class Submission:
    """One job the gateway is about to publish, fully validated."""

    job_id: str
    job_type: str
    payload: dict[str, Any]
    event_id: str
    source: str
    submitted_at: str
    correlation_id: str
    idempotency_key: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    # The gateway made the id up just now, so no earlier submission can have it: skip the duplicate lookup.
    fresh_id: bool = False


def _errors(violations: list[Violation], prefix: str) -> list[FieldError]:
    return [FieldError(prefix + v.pointer, v.message) for v in violations]


def _canonical_uuid(value: str) -> str:
    return str(uuid.UUID(value))


def plain_submission(
    contracts: ContractRegistry,
    body: Any,
    *,
    idempotency_key: str | None,
    correlation_id: str,
    now: datetime,
    new_id: NewId,
) -> Submission:
    """POST /jobs: ``{type, payload, id?}``. Job id: ``id``, else from the Idempotency-Key, else new."""
    violations = contracts.validate_submission(body)
    if violations:
        raise Unprocessable("the job does not match the contract", _errors(violations, ""))
    if "id" in body:
        job_id = _canonical_uuid(body["id"])
    elif idempotency_key is not None:
        job_id = job_id_for_key(idempotency_key)
    else:
        job_id = new_id()
    return Submission(
        fresh_id="id" not in body and idempotency_key is None,
        job_id=job_id,
        job_type=body["type"],
        payload=body["payload"],
        # Deterministic, so publishing the same job twice (a race, a retry) is deduped downstream.
        event_id=reply_event_id(job_id, EventType.SUBMITTED, 0),
        source=SOURCE,
        submitted_at=rfc3339(now),
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )


def _event_data_errors(contracts: ContractRegistry, data: Any, prefix: str) -> list[FieldError]:
    """Either the submission shape ``{type, payload, id?}`` or the full job.submitted data."""
    if not isinstance(data, dict):
        return [
            FieldError(prefix, "the data must be a JSON object: {type, payload, id?} or job.submitted data")
        ]
    if "jobId" not in data:
        return _errors(contracts.validate_submission(data), prefix)
    errors = _errors(contracts.validate(SUBMITTED_SCHEMA, data), prefix)
    if not errors:
        if data["generation"] != 0:
            errors.append(
                FieldError(prefix + "/generation", "must be 0: later generations are operator replays")
            )
        job_type, known = data["type"], contracts.job_types()
        if job_type not in known:
            errors.append(
                FieldError(prefix + "/type", f"{job_type!r} is not a known job type ({', '.join(known)})")
            )
        else:
            schema = contracts.payload_schema_id(job_type)
            errors += _errors(contracts.validate(schema, data["payload"]), prefix + "/payload")
    return errors


def event_submissions(
    contracts: ContractRegistry,
    events: list[CloudEvent],
    *,
    batch: bool,
    idempotency_key: str | None,
    correlation_header: str | None,
    now: datetime,
    new_id: NewId,
) -> list[Submission]:
    """POST /: every event validated first; one violation anywhere and nothing is accepted.

    The job id is, in order: the data's ``jobId`` or ``id``; the Idempotency-Key (``<key>#<index>`` in a
    batch); else derived from the event's ``source`` and ``id`` — the CloudEvent's own identity — so
    sending the same event again names the same job.
    """
    if not events:
        raise BadRequest("the batch is empty")
    errors: list[FieldError] = []
    request_cid = correlation_header or new_id()
    found: list[Submission] = []
    for index, event in enumerate(events):
        where = f"/{index}" if batch else ""
        attrs = event.get_attributes()
        if attrs.get("type") != EventType.SUBMITTED.value:
            errors.append(FieldError(where + "/type", f"must be {EventType.SUBMITTED.value}"))
        own_cid = attrs.get(CORRELATION)
        if own_cid is not None and not _HEADER_VALUE.match(str(own_cid)):
            errors.append(FieldError(where + "/" + CORRELATION, "must be 1-256 printable ASCII characters"))
        data = event.get_data()
        data_errors = _event_data_errors(contracts, data, where + "/data")
        errors += data_errors
        if errors or not isinstance(data, dict):
            continue
        explicit = data.get("jobId", data.get("id"))
        if explicit is not None:
            job_id = _canonical_uuid(explicit)
        elif idempotency_key is not None:
            job_id = job_id_for_key(f"{idempotency_key}#{index}" if batch else idempotency_key)
        else:
            job_id = job_id_for_key(f"cloudevent:{attrs['source']}|{attrs['id']}")
        key = (
            None if idempotency_key is None else (f"{idempotency_key}#{index}" if batch else idempotency_key)
        )
        found.append(
            Submission(
                job_id=job_id,
                job_type=data["type"],
                payload=data["payload"],
                event_id=str(attrs["id"]),
                source=str(attrs["source"]),
                submitted_at=str(data.get("submittedAt") or rfc3339(now)),
                correlation_id=correlation_header or (str(own_cid) if own_cid else request_cid),
                idempotency_key=key,
                extensions={
                    k: str(v)
                    for k, v in attrs.items()
                    if k not in _OWN_ATTRIBUTES and not k.startswith("knative")
                },
            )
        )
    if errors:
        raise Unprocessable(
            f"{len(errors)} violation(s) of the contract; nothing was published",
            sorted(errors, key=lambda e: (e.pointer, e.message)),
        )
    return found


def to_event(contracts: ContractRegistry, submission: Submission, now: datetime) -> CloudEvent:
    """The job.submitted event the gateway publishes (binary mode) for an accepted submission."""
    return build(
        EventType.SUBMITTED.value,
        submission.source,
        {
            "jobId": submission.job_id,
            "type": submission.job_type,
            "payload": submission.payload,
            "submittedAt": submission.submitted_at,
            "generation": 0,
        },
        event_id=submission.event_id,
        dataschema=contracts.event_schema_id(EventType.SUBMITTED.value),
        extensions={
            **submission.extensions,
            CORRELATION: submission.correlation_id,
            "jobid": submission.job_id,
            "jobtype": submission.job_type,
        },
        time=now,
    )


def accepted(job_id: str, event_id: str, *, duplicate: bool) -> dict[str, Any]:
    """The answer body (contracts/schemas/jobs/accepted.json)."""
    return {"jobId": job_id, "eventId": event_id, "status": "PENDING", "duplicate": duplicate}
