"""Prometheus metrics of the gateway."""

from __future__ import annotations

from prometheus_client import Counter

from functions.core.contracts import default_registry
from functions.core.errors import (
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)

SUBMITTED = Counter(
    "gateway_jobs_submitted_total", "Valid job submissions received (new or repeated), by job type.", ["type"]
)
ACCEPTED = Counter("gateway_jobs_accepted_total", "New jobs the broker accepted (answered 202).")
DUPLICATES = Counter(
    "gateway_jobs_duplicate_total",
    "Submissions of a job id or Idempotency-Key already accepted (not republished).",
)
REJECTED = Counter("gateway_jobs_rejected_total", "Submissions refused, by reason.", ["reason"])

_REASONS: tuple[tuple[type[ProblemError], str], ...] = (
    (Unauthorized, "unauthorized"),
    (PayloadTooLarge, "too_large"),
    (UnsupportedMediaType, "unsupported_media_type"),
    (Unprocessable, "invalid"),
    (Unavailable, "unavailable"),
    (BadRequest, "malformed"),
)


REASONS: tuple[str, ...] = (*(reason for _, reason in _REASONS), "other")


def reason_of(err: ProblemError) -> str:
    for kind, reason in _REASONS:
        if isinstance(err, kind):
            return reason
    return "other"


def _prime() -> None:
    # Every known label value exists from start-up at 0, so increase()/rate() see the first submission.
    for job_type in default_registry().job_types():
        SUBMITTED.labels(job_type)
    for reason in REASONS:
        REJECTED.labels(reason)


_prime()
