"""Pure decisions of the processor: what a claim result means, and how a run's outcome is recorded.

No I/O here; ``flow.py`` carries the decisions out against PostgreSQL, the sink and MongoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from functions.core.jobs import JobStatus
from functions.core.stores.postgres import Claim
from functions.processor.errors import JobFailure

TIMEOUT = "timeout"
INVALID = "invalid"
INTERNAL = "internal"


class AfterClaim(StrEnum):
    RUN = "run"  # this delivery won the claim: run the handler
    RESEND = "resend"  # already terminal in this generation: send the same reply again, run nothing
    IGNORE = "ignore"  # another instance holds a live lease, or the event is of another generation


def after_claim(claim: Claim, event_generation: int) -> AfterClaim:
    if claim.won:
        return AfterClaim.RUN
    if claim.generation == event_generation and claim.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        # The reply of the first run may have been lost (the broker retries when forwarding it fails):
        # re-sending it under the same deterministic id is safe, the audit trail dedupes it.
        return AfterClaim.RESEND
    return AfterClaim.IGNORE


@dataclass(frozen=True)
class Outcome:
    """``status`` is COMPLETED or FAILED, or EXECUTING for a retryable failure (the job is released)."""

    status: JobStatus
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def retry(self) -> bool:
        return self.status is JobStatus.EXECUTING

    @property
    def http_status(self) -> int:
        # 5xx makes the broker deliver again; 200 with a reply ends the delivery.
        return 503 if self.retry else 200


def outcome_of(result: dict[str, Any] | None, exc: BaseException | None, timeout_s: float) -> Outcome:
    if exc is None:
        return Outcome(JobStatus.COMPLETED, result=result if result is not None else {})
    if isinstance(exc, JobFailure):
        return Outcome(JobStatus.EXECUTING if exc.retryable else JobStatus.FAILED, error=exc.as_error())
    if isinstance(exc, TimeoutError):
        message = f"the job did not finish within {timeout_s:g} s"
        return Outcome(JobStatus.FAILED, error={"code": TIMEOUT, "message": message, "retryable": False})
    # A handler bug or a dependency hiccup: let the broker retry; after the last retry it dead-letters.
    message = f"{exc.__class__.__name__}: {exc}"[:2000]
    return Outcome(JobStatus.EXECUTING, error={"code": INTERNAL, "message": message, "retryable": True})
