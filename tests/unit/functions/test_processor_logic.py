"""Pure decisions of the processor: claims, outcomes, incoming-event checks, settings."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from functions.core.contracts import default_registry
from functions.core.errors import SettingsError
from functions.core.jobs import JobStatus
from functions.core.stores.postgres import Claim
from functions.processor.decisions import AfterClaim, LeaseTiming, after_claim, outcome_of
from functions.processor.errors import JobFailure
from functions.processor.events import JobRef
from functions.processor.intake import Invalid, check_submitted
from functions.processor.settings import LEASE_S, ProcessorSettings

S = JobStatus


@pytest.mark.parametrize(
    ("claim", "generation", "action"),
    [
        (Claim(True, S.EXECUTING, 1, 0), 0, AfterClaim.RUN),
        (Claim(True, S.EXECUTING, 3, 2), 2, AfterClaim.RUN),  # a replayed generation, claimed
        (Claim(False, S.EXECUTING, 1, 0), 0, AfterClaim.BUSY),  # live lease elsewhere: never ack it
        (Claim(False, S.EXECUTING, 2, 1), 1, AfterClaim.BUSY),
        (Claim(False, S.EXECUTING, 1, 1), 0, AfterClaim.IGNORE),  # running, but in a newer generation
        (Claim(False, S.COMPLETED, 1, 0), 0, AfterClaim.RESEND),
        (Claim(False, S.FAILED, 1, 0), 0, AfterClaim.RESEND),
        (Claim(False, S.DEAD_LETTERED, 4, 0), 0, AfterClaim.IGNORE),  # the dead-letter sink replied
        (Claim(False, S.COMPLETED, 1, 1), 0, AfterClaim.IGNORE),  # stale event of an older generation
        (Claim(False, S.PENDING, 0, 1), 0, AfterClaim.IGNORE),
    ],
)
def test_after_claim(claim: Claim, generation: int, action: AfterClaim) -> None:
    assert after_claim(claim, generation) is action


@pytest.mark.parametrize(
    ("lease", "renew", "poll", "wait", "retry_after"),
    [
        (LEASE_S, 2.0, 0.5, 6.5, 6),
        (1.0, 1 / 3, 0.25, 1.25, 1),
        (0.5, 1 / 6, 0.125, 0.625, 1),
        (30.0, 10.0, 0.5, 30.5, 30),
        (2.5, 2.5 / 3, 0.5, 3.0, 3),
    ],
)
def test_lease_timing(lease: float, renew: float, poll: float, wait: float, retry_after: int) -> None:
    timing = LeaseTiming(lease)
    assert timing.renew_every_s == pytest.approx(renew)
    assert timing.poll_s == pytest.approx(poll)
    assert timing.wait_s == pytest.approx(wait)
    assert timing.retry_after_s == retry_after
    # Two renewals may be late before the lease lapses; a waiter outlasts a dead holder's whole lease.
    assert 2 * timing.renew_every_s < timing.lease_s < timing.wait_s


@pytest.mark.parametrize(
    ("result", "exc", "status", "code", "http"),
    [
        ({"a": 1}, None, S.COMPLETED, None, 200),
        (None, None, S.COMPLETED, None, 200),
        (None, JobFailure("x", "m"), S.FAILED, "x", 200),
        (None, JobFailure("x", "m", retryable=True), S.EXECUTING, "x", 503),
        (None, TimeoutError(), S.FAILED, "timeout", 200),
        (None, ValueError("bug"), S.EXECUTING, "internal", 503),
    ],
)
def test_outcome_of(
    result: Any, exc: BaseException | None, status: JobStatus, code: str | None, http: int
) -> None:
    outcome = outcome_of(result, exc, 2.0)
    assert outcome.status is status and outcome.http_status == http
    assert (outcome.error or {}).get("code") == code
    if outcome.error:
        assert set(outcome.error) == {"code", "message", "retryable"}


def event(data: Any, event_type: str = "dev.observatory.job.submitted", **attrs: str) -> CloudEvent:
    return CloudEvent({"type": event_type, "source": "/t", "id": "e1", **attrs}, data)


JOB = str(uuid.uuid4())
GOOD = {"jobId": JOB, "type": "echo", "payload": {"message": "m"}, "submittedAt": "2024-01-01T00:00:00Z",
        "generation": 0}  # fmt: skip


def test_valid_event_gives_a_job() -> None:
    checked = check_submitted(default_registry(), event(GOOD, correlationid="c1"))
    assert checked == JobRef(JOB, "echo", {"message": "m"}, 0, "c1", "e1")


@pytest.mark.parametrize(
    ("ev", "pointers", "job_id"),
    [
        (event(GOOD, "dev.observatory.job.started"), ["/type"], None),
        (event("text", jobid=JOB), ["/data"], JOB),
        (event({**GOOD, "payload": {"message": 1}}), ["/data/payload/message"], JOB),
        (event({**GOOD, "type": "teleport"}), ["/data/type"], JOB),
        (event({**GOOD, "jobId": "nope"}, jobid=JOB), ["/data/jobId"], JOB),
        (event({k: v for k, v in GOOD.items() if k != "submittedAt"}), ["/data/submittedAt"], JOB),
    ],
)
def test_invalid_events(ev: CloudEvent, pointers: list[str], job_id: str | None) -> None:
    checked = check_submitted(default_registry(), ev)
    assert isinstance(checked, Invalid)
    assert [e.pointer for e in checked.errors] == pointers
    assert checked.job_id == job_id


@pytest.mark.parametrize(("raw", "scale"), [("", 1.0), ("0.01", 0.01), ("2", 2.0)])
def test_timeout_scale(raw: str, scale: float) -> None:
    assert ProcessorSettings.from_env({"PROCESSOR_TIMEOUT_SCALE": raw}).timeout_scale == scale


@pytest.mark.parametrize("raw", ["fast", "0", "-1", "1000"])
def test_bad_timeout_scale(raw: str) -> None:
    with pytest.raises(SettingsError, match="PROCESSOR_TIMEOUT_SCALE"):
        ProcessorSettings.from_env({"PROCESSOR_TIMEOUT_SCALE": raw})


@pytest.mark.parametrize(
    ("raw", "lease"), [("", LEASE_S), (" ", LEASE_S), ("1", 1.0), ("0.5", 0.5), ("300", 300.0)]
)
def test_lease_seconds(raw: str, lease: float) -> None:
    assert ProcessorSettings.from_env({"PROCESSOR_LEASE_SECONDS": raw}).lease_s == lease


@pytest.mark.parametrize("raw", ["long", "0", "0.1", "-6", "301", "nan", "inf"])
def test_bad_lease_seconds(raw: str) -> None:
    with pytest.raises(SettingsError, match="PROCESSOR_LEASE_SECONDS"):
        ProcessorSettings.from_env({"PROCESSOR_LEASE_SECONDS": raw})
