"""One job.submitted delivery, start to reply: parse, validate, claim, announce, run, record, reply.

The HTTP answer is what the broker acts on: 200 with a binary-mode CloudEvent is a reply, 200 without a
body ends the delivery quietly (foreign event, or an event of another generation), 503 makes the broker
deliver again (a retryable failure, or the job still runs under another instance's live lease).

A claim holds a short lease that a background task renews while the handler runs, so the lease of an
instance that died mid-job runs out within seconds and a redelivery can claim the job again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from functions.core.cloudevents import CORRELATION, CloudEvent, extension, parse_request, to_binary_http
from functions.core.contracts import ContractRegistry
from functions.core.errors import BadRequest, ProblemError, StoreError, Unavailable
from functions.core.jobs import JobStatus
from functions.core.sink import Sink, SinkUnavailable
from functions.core.stores.postgres import Claim, JobRepository
from functions.core.telemetry import correlation_id
from functions.core.web import problem
from functions.processor import events, metrics
from functions.processor.decisions import INVALID, AfterClaim, LeaseTiming, after_claim, outcome_of
from functions.processor.events import JobRef
from functions.processor.intake import Invalid, check_submitted
from functions.processor.invalid_store import InvalidEvents
from functions.processor.registry import Handler, HandlerRegistry

UNPARSEABLE_SOURCE = "urn:observatory:processor:unparseable"
_MAX_KEPT_BODY = 64 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def reply(event: CloudEvent) -> Response:
    headers, body = to_binary_http(event)
    return Response(body, status_code=200, headers=headers)


def no_reply() -> Response:
    return Response(status_code=200)


class Processor:
    def __init__(
        self,
        contracts: ContractRegistry,
        handlers: HandlerRegistry,
        jobs: JobRepository,
        sink: Sink | None,
        invalid: InvalidEvents,
        *,
        lease: LeaseTiming,
        log: logging.Logger,
    ) -> None:
        self.contracts = contracts
        self.handlers = handlers
        self.jobs = jobs
        self.sink = sink
        self.invalid = invalid
        self.lease = lease
        self.log = log

    async def handle(self, headers: Mapping[str, str], body: bytes) -> Response:
        try:
            parsed = parse_request(headers, body)
        except ProblemError as exc:
            await self._keep_unparseable(headers, body, exc)
            return problem(exc)
        if len(parsed) != 1:
            refused = BadRequest(f"expected one CloudEvent, got a batch of {len(parsed)}")
            await self._keep_unparseable(headers, body, refused)
            return problem(refused)
        event = parsed[0]
        correlation_id.set(extension(event, CORRELATION))
        checked = check_submitted(self.contracts, event)
        if isinstance(checked, Invalid):
            return await self._refuse(event, checked)
        return await self._run(checked)

    # -- valid events -------------------------------------------------------------------------------------

    async def _run(self, job: JobRef) -> Response:
        handler = self.handlers.get(job.job_type)
        timeout_s = self.handlers.timeout_for(job.job_type)
        claim = await self._claim(job)
        action = after_claim(claim, job.generation)
        if action is AfterClaim.BUSY:
            claim, action = await self._wait_for_holder(job, claim)
        if action is not AfterClaim.RUN:
            metrics.DUPLICATES.labels(action.value).inc()
            self.log.info("duplicate delivery: %s (job is %s)", action.value, claim.status.value,
                          extra={"jobId": job.job_id})  # fmt: skip
            if action is AfterClaim.BUSY:
                return problem(
                    Unavailable(
                        f"job {job.job_id} is running on another instance; retry", self.lease.retry_after_s
                    )
                )
            return await self._reply_from_row(job) if action is AfterClaim.RESEND else no_reply()

        renewer = asyncio.create_task(self._keep_lease(job))
        try:
            return await self._execute(job, handler, timeout_s, claim, renewer)
        finally:
            await _stop(renewer)

    async def _execute(
        self, job: JobRef, handler: Handler, timeout_s: float, claim: Claim, renewer: asyncio.Task[None]
    ) -> Response:
        started_at = _now()
        await self._announce(events.started(self.contracts, job, started_at, claim.attempts))
        metrics.PROCESSED.labels(job.job_type).inc()
        clock = time.perf_counter()
        result: dict[str, Any] | None = None
        failure: Exception | None = None
        try:
            result = await asyncio.wait_for(handler.execute(job.payload), timeout_s)
        except Exception as exc:  # every failure becomes a typed outcome below
            failure = exc
        # Before the job is released or finished: a renewal after release() would hold the job from the
        # broker's redelivery for a whole lease.
        await _stop(renewer)
        outcome = outcome_of(result, failure, timeout_s)
        metrics.PROCESSING_SECONDS.labels(job.job_type, outcome.status.value).observe(
            time.perf_counter() - clock
        )

        if outcome.retry:
            error = outcome.error or {}
            metrics.FAILED.labels(job.job_type, str(error.get("code")), "true").inc()
            await self.jobs.release(job.job_id, error)
            self.log.warning("retryable failure: %s", error.get("message"), extra={"jobId": job.job_id})
            return problem(
                Unavailable(f"job {job.job_id} failed and will be retried: {error.get('message')}", 1)
            )

        won = await self.jobs.finish(
            job.job_id, job.job_type, outcome.status, result=outcome.result, error=outcome.error,
            payload=job.payload, correlation_id=job.correlation_id, generation=job.generation,
        )  # fmt: skip
        if not won:  # something else finished it first (e.g. the dead-letter sink): report what stands
            return await self._reply_from_row(job)
        finished_at = _now()
        if outcome.status is JobStatus.COMPLETED:
            metrics.COMPLETED.labels(job.job_type).inc()
            return reply(events.completed(self.contracts, job, outcome.result, started_at, finished_at))
        error = outcome.error or {}
        metrics.FAILED.labels(job.job_type, str(error.get("code")), "false").inc()
        return reply(events.failed(self.contracts, job, error, finished_at))

    # -- the lease ------------------------------------------------------------------------------------------

    async def _claim(self, job: JobRef) -> Claim:
        return await self.jobs.claim(
            job.job_id, job.job_type, job.payload, correlation_id=job.correlation_id,
            event_id=job.event_id, lease_seconds=self.lease.lease_s, generation=job.generation,
        )  # fmt: skip

    async def _wait_for_holder(self, job: JobRef, claim: Claim) -> tuple[Claim, AfterClaim]:
        """The job runs under another instance's lease: wait up to one lease for it to end or lapse.

        Answering 503 at once would spend the broker's retries while a dead instance's lease runs out (and
        a runtime may shrink those waits); waiting here lets the redelivery after a crash run the job
        itself, or re-send the reply of a run that just ended.
        """
        deadline = time.monotonic() + self.lease.wait_s
        action = AfterClaim.BUSY
        while action is AfterClaim.BUSY and time.monotonic() < deadline:
            await asyncio.sleep(self.lease.poll_s)
            claim = await self._claim(job)
            action = after_claim(claim, job.generation)
        return claim, action

    async def _keep_lease(self, job: JobRef) -> None:
        """Renew the claim's lease until cancelled, or until the job is no longer running in this generation."""
        while True:
            await asyncio.sleep(self.lease.renew_every_s)
            try:
                if not await self.jobs.renew_lease(job.job_id, job.generation, self.lease.lease_s):
                    return  # ended elsewhere (the dead-letter sink) or replayed: nothing left to hold
            except StoreError as exc:  # try again at the next tick; the lease has two ticks of slack
                self.log.warning("lease not renewed: %s", exc, extra={"jobId": job.job_id})

    async def _reply_from_row(self, job: JobRef) -> Response:
        row = await self.jobs.get(job.job_id)
        if row is None or row["generation"] != job.generation:
            return no_reply()
        event = events.reply_from_row(self.contracts, job, row)
        return no_reply() if event is None else reply(event)

    async def _announce(self, event: CloudEvent) -> None:
        """job.started is informative: losing it never fails the job (the reply still carries the end)."""
        if self.sink is None:
            metrics.STARTED_NOT_PUBLISHED.inc()
            self.log.warning("K_SINK is not set: job.started not published")
            return
        try:
            await self.sink.publish(event)
        except SinkUnavailable as exc:
            metrics.STARTED_NOT_PUBLISHED.inc()
            self.log.warning("job.started not published: %s", exc)

    # -- invalid events -------------------------------------------------------------------------------------

    async def _refuse(self, event: CloudEvent, invalid: Invalid) -> Response:
        metrics.VALIDATION_FAILED.inc()
        attrs = {k: str(v) for k, v in event.get_attributes().items()}
        data = event.get_data()
        await self.invalid.keep(
            {
                "source": attrs.get("source"), "id": attrs.get("id"), "type": attrs.get("type"),
                "jobid": invalid.job_id, "correlationid": attrs.get(CORRELATION), "attributes": attrs,
                # As text: an invalid event may hold keys MongoDB refuses (leading $, dots).
                "data": _as_text(data), "errors": [e.as_dict() for e in invalid.errors], "receivedAt": _now(),
            }
        )  # fmt: skip
        self.log.warning("invalid event %s: %s", attrs.get("id"), invalid.message,
                         extra={"jobId": invalid.job_id})  # fmt: skip
        if invalid.job_id is None:
            return no_reply()
        job = JobRef(
            invalid.job_id, invalid.job_type, invalid.payload, invalid.generation,
            attrs.get(CORRELATION), attrs.get("id", ""),
        )  # fmt: skip
        error = {"code": INVALID, "message": invalid.message, "retryable": False}
        won = await self.jobs.finish(
            job.job_id, job.job_type, JobStatus.FAILED, error=error, payload=job.payload,
            correlation_id=job.correlation_id, generation=job.generation,
        )  # fmt: skip
        if won:
            metrics.FAILED.labels(job.job_type, INVALID, "false").inc()
            return reply(events.failed(self.contracts, job, error, _now()))
        row = await self.jobs.get(job.job_id)
        if row and row["status"] == "FAILED" and (row.get("error") or {}).get("code") == INVALID:
            return await self._reply_from_row(job)  # a redelivery of the same invalid event
        return no_reply()

    async def _keep_unparseable(self, headers: Mapping[str, str], body: bytes, err: ProblemError) -> None:
        metrics.VALIDATION_FAILED.inc()
        kept = {
            k.lower(): v
            for k, v in headers.items()
            if k.lower().startswith("ce-") or k.lower() == "content-type"
        }
        await self.invalid.keep(
            {
                "source": UNPARSEABLE_SOURCE, "id": hashlib.sha256(body).hexdigest(), "type": None,
                "jobid": None, "headers": kept, "data": _as_text(body[:_MAX_KEPT_BODY]),
                "errors": [{"pointer": "", "message": err.detail}], "receivedAt": _now(),
            }
        )  # fmt: skip


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _as_text(data: Any) -> str | None:
    if data is None:
        return None
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(data).decode("ascii")
    return json.dumps(data, default=str)[:_MAX_KEPT_BODY]
