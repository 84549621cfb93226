"""Query parameters of the read model, parsed and checked before any store is touched. Pure.

Every refusal is a 400 problem whose ``errors`` name the parameter (pointer ``/query/<name>``), so a
client can show which field to fix. Unknown parameters are refused too: a typo such as ``stauts=FAILED``
would otherwise silently return every job.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from functions.core.errors import BadRequest, FieldError
from functions.core.jobs import JobStatus
from functions.core.times import parse_rfc3339

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MIN_SEARCH = 3  # trigram search needs three characters to use its index
MAX_SEARCH = 200
_JOB_TYPE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_EVENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,199}$")


def _bad(name: str, message: str) -> BadRequest:
    return BadRequest(f"query parameter {name}: {message}", [FieldError(f"/query/{name}", message)])


def reject_unknown(query: Mapping[str, str], known: Iterable[str]) -> None:
    allowed = set(known)
    extra = sorted(k for k in query if k not in allowed)
    if extra:
        errors = [
            FieldError(f"/query/{k}", f"unknown parameter (allowed: {', '.join(sorted(allowed))})")
            for k in extra
        ]
        raise BadRequest(f"unknown query parameter(s): {', '.join(extra)}", errors)


def limit_of(query: Mapping[str, str], default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _bad("limit", f"{raw!r} must be a whole number from 1 to {maximum}")
    return int(raw)


def uuid_of(raw: str, name: str, where: str = "query") -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        err = _bad(name, f"{raw[:60]!r} is not a UUID")
        if where != "query":
            err = BadRequest(f"{where} parameter {name}: {raw[:60]!r} is not a UUID",
                             [FieldError(f"/{where}/{name}", "not a UUID")])  # fmt: skip
        raise err from None


def time_of(query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    parsed = parse_rfc3339(raw)
    if parsed is None:
        raise _bad(name, f"{raw[:60]!r} is not an RFC 3339 timestamp such as 2026-01-02T03:04:05Z")
    return parsed


def seconds_of(query: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # also refuses nan and inf
        raise _bad(name, f"{raw[:20]!r} must be seconds from {low:g} to {high:g}")
    return value


def flag_of(query: Mapping[str, str], name: str) -> bool:
    """``?force``, ``?force=true`` and ``?force=1`` are true; absent, ``false`` and ``0`` are false."""
    raw = query.get(name)
    if raw is None:
        return False
    if raw.lower() in ("", "1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise _bad(name, f"{raw!r} must be true or false")


# -- opaque cursors -------------------------------------------------------------------------------------


def encode_cursor(when: datetime, key: str) -> str:
    raw = json.dumps([when.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str, name: str = "cursor") -> tuple[datetime, str]:
    """The (time, key) a page ended at. The format is private: clients pass back what they were given."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        when = datetime.fromisoformat(decoded[0])
        key = decoded[1]
        if not isinstance(key, str) or when.tzinfo is None or len(decoded) != 2:
            raise ValueError("shape")
    except (ValueError, TypeError, IndexError, KeyError, binascii.Error, UnicodeDecodeError):
        raise _bad(name, "not a cursor this server issued; pass back nextCursor unchanged") from None
    return when, key


# -- /jobs ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobQuery:
    status: JobStatus | None = None
    job_type: str | None = None
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until
    q: str | None = None
    after: tuple[datetime, str] | None = None  # keyset: rows strictly older than this (created_at, id)
    limit: int = DEFAULT_LIMIT


JOB_PARAMS = ("status", "type", "since", "until", "q", "cursor", "limit")


def job_query(query: Mapping[str, str]) -> JobQuery:
    reject_unknown(query, JOB_PARAMS)
    status = None
    if query.get("status"):
        try:
            status = JobStatus(query["status"].upper())
        except ValueError:
            raise _bad("status", f"{query['status'][:40]!r} is not one of {', '.join(JobStatus)}") from None
    job_type = query.get("type") or None
    if job_type is not None and not _JOB_TYPE.match(job_type):
        raise _bad("type", f"{job_type[:40]!r} is not a job type (lower case letters, digits, -)")
    since, until = time_of(query, "since"), time_of(query, "until")
    if since and until and since >= until:
        raise _bad("until", "must be later than since")
    q = query.get("q")
    if q is not None:
        q = q.strip()
        if not MIN_SEARCH <= len(q) <= MAX_SEARCH:
            raise _bad("q", f"search text must be {MIN_SEARCH} to {MAX_SEARCH} characters")
    after = None
    if query.get("cursor"):
        when, key = decode_cursor(query["cursor"])
        after = (when, uuid_of(key, "cursor"))
    return JobQuery(status, job_type, since, until, q or None, after, limit_of(query))


# -- /events and /dead-letters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventQuery:
    job_id: str | None = None
    event_type: str | None = None
    after: tuple[datetime, str] | None = None  # keyset: (time, Mongo _id) of the last item shown
    limit: int = DEFAULT_LIMIT


EVENT_PARAMS = ("jobId", "type", "cursor", "limit")


def event_query(query: Mapping[str, str]) -> EventQuery:
    reject_unknown(query, EVENT_PARAMS)
    job_id = uuid_of(query["jobId"], "jobId") if query.get("jobId") else None
    event_type = query.get("type") or None
    if event_type is not None and not _EVENT_TYPE.match(event_type):
        raise _bad("type", f"{event_type[:60]!r} is not a CloudEvent type such as dev.observatory.job.failed")
    after = decode_cursor(query["cursor"]) if query.get("cursor") else None
    if after is not None and not re.fullmatch(r"[0-9a-f]{24}", after[1]):
        raise _bad("cursor", "not a cursor this server issued; pass back nextCursor unchanged")
    return EventQuery(job_id, event_type, after, limit_of(query))


DEAD_LETTER_PARAMS = ("jobId", "cursor", "limit")


def dead_letter_query(query: Mapping[str, str]) -> EventQuery:
    reject_unknown(query, DEAD_LETTER_PARAMS)
    return event_query(query)
