"""Pure decisions of the processor: what a claim result means, and how a run's outcome is recorded.

No I/O here; ``flow.py`` carries the decisions out against PostgreSQL, the sink and MongoDB.
"""

from __future__ import annotations

import math
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
    BUSY = "busy"  # running under another instance's live lease: wait for it, else 503 so the broker retries
    IGNORE = "ignore"  # an event of another generation, or a job the dead-letter sink already ended


def after_claim(claim: Claim, event_generation: int) -> AfterClaim:
    if claim.won:
        return AfterClaim.RUN
    if claim.generation != event_generation:
        return AfterClaim.IGNORE
    if claim.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        # The reply of the first run may have been lost (the broker retries when forwarding it fails):
        # re-sending it under the same deterministic id is safe, the audit trail dedupes it.
        return AfterClaim.RESEND
    if claim.status is JobStatus.EXECUTING:
        # Never acknowledge this delivery while the job merely runs elsewhere: if that instance dies, this
        # delivery is the only one left to finish the job.
        return AfterClaim.BUSY
    return AfterClaim.IGNORE


@dataclass(frozen=True)
class LeaseTiming:
    """How a claim's short lease is kept alive, and how long a delivery waits on someone else's lease."""

    lease_s: float

    @property
    def renew_every_s(self) -> float:
        # A third of the lease: two renewals can be late (a slow database) before the lease lapses.
        return self.lease_s / 3

    @property
    def poll_s(self) -> float:
        return min(0.5, self.lease_s / 4)

    @property
    def wait_s(self) -> float:
        """A live holder renews within a third of the lease; a dead one's lease lapses within one lease.

        So after one lease (and a poll) a waiting delivery has either claimed the job of a dead instance,
        seen it end, or knows its holder is alive.
        """
        return self.lease_s + self.poll_s

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.lease_s))


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
