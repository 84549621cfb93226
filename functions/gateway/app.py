"""The gateway function: job submissions in, job.submitted CloudEvents to the broker out.

POST /jobs   ``{"type": ..., "payload": {...}, "id"?: uuid}`` as application/json.
POST /       a dev.observatory.job.submitted CloudEvent in binary mode (ce-* headers, JSON data),
             structured mode (application/cloudevents+json) or batch mode
             (application/cloudevents-batch+json). The event's data is either the submission shape
             ``{type, payload, id?}`` or the full job.submitted data ``{jobId, type, payload,
             submittedAt, generation: 0}``. The client's ``source`` and ``id`` are kept on the published
             event (the answer's ``eventId`` is the client's id), and when the data names no job id the
             job id is derived from that source+id, so re-sending the same event names the same job.

Answers: 202 ``{jobId, eventId, status: "PENDING", duplicate: false}`` once the broker confirmed the
event (a batch answers 202 with a list, in order); 200 with ``duplicate: true`` and nothing published
when the job id or Idempotency-Key was accepted before; 503 + Retry-After when the broker cannot take
it (nothing recorded, safe to retry). Refusals are RFC 9457 problem+json: 400 malformed JSON or
CloudEvent, 401 bearer token missing/wrong (when OBSERVATORY_API_TOKEN is set), 413 body over
OBSERVATORY_MAX_BODY_BYTES, 415 content type, 422 contract violations (``errors``: pointer + message;
in a batch pointers start with the event's index, e.g. /2/data/payload/rounds). X-Correlation-Id is
honoured (else the event's correlationid extension, else generated), echoed, and published as the
``correlationid`` extension.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from functions.core.cloudevents import BATCH, parse_request
from functions.core.contracts import ContractError, ContractRegistry, default_registry
from functions.core.errors import ProblemError, Unavailable
from functions.core.settings import Settings
from functions.core.sink import Sink, SinkUnavailable
from functions.core.stores.postgres import JobRepository, make_pool
from functions.core.telemetry import configure_logging, correlation_id
from functions.core.web import FunctionApp, json_response
from functions.gateway import intake, metrics
from functions.gateway.body import read_body
from functions.gateway.keys import SubmissionKeys

NAME = "gateway"
CORRELATION_HEADER = "X-Correlation-Id"
RETRY_AFTER_S = 2


def _new_id() -> str:
    return str(uuid.uuid4())


class GatewayResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = configure_logging(NAME)
        self.contracts: ContractRegistry = default_registry()
        self.pool = make_pool(settings.database_url, max_size=settings.pg_pool_max, name=NAME)
        self.jobs = JobRepository(self.pool)
        self.keys = SubmissionKeys(self.pool)
        self.sink = Sink(settings.k_sink)

    async def start(self) -> None:
        await self.pool.open(wait=True, timeout=10)

    async def stop(self) -> None:
        await self.pool.close()
        await self.sink.close()

    async def ready(self) -> dict[str, bool]:
        return {"postgres": await self.jobs.ping(), "sink": self.settings.k_sink is not None}


class Gateway:
    def __init__(self, resources: GatewayResources) -> None:
        self.r = resources

    async def submit(self, request: Request, *, plain: bool) -> Response:
        settings, contracts = self.r.settings, self.r.contracts
        try:
            intake.check_auth(request.headers.get("authorization"), settings.api_token)
            body = await read_body(request, settings.max_body_bytes)
            content_type = request.headers.get("content-type")
            media = intake.require_media(content_type, intake.JSON_TYPES if plain else intake.EVENT_TYPES)
            header_cid = intake.header_value(CORRELATION_HEADER, request.headers.get(CORRELATION_HEADER))
            key = intake.header_value("Idempotency-Key", request.headers.get("idempotency-key"))
            now = datetime.now(UTC)
            if plain:
                cid = header_cid or _new_id()
                submissions = [
                    intake.plain_submission(
                        contracts, intake.parse_json(body), idempotency_key=key, correlation_id=cid,
                        now=now, new_id=_new_id,
                    )
                ]  # fmt: skip
            else:
                submissions = intake.event_submissions(
                    contracts, parse_request(request.headers, body), batch=media == BATCH,
                    idempotency_key=key, correlation_header=header_cid, now=now, new_id=_new_id,
                )  # fmt: skip
            correlation_id.set(submissions[0].correlation_id)
            for submission in submissions:
                metrics.SUBMITTED.labels(submission.job_type).inc()
            answers = [await self._accept(s, now) for s in submissions]
        except ProblemError as err:
            metrics.REJECTED.labels(metrics.reason_of(err)).inc()
            raise
        headers = {CORRELATION_HEADER: submissions[0].correlation_id}
        if not plain and media == BATCH:
            return json_response(answers, 202, headers)
        return json_response(answers[0], 200 if answers[0]["duplicate"] else 202, headers)

    async def _accept(self, submission: intake.Submission, now: datetime) -> dict[str, Any]:
        """Publish one job unless it is known; record it only after the broker has it."""
        if submission.idempotency_key is not None:
            known = await self.r.keys.get(submission.idempotency_key)
            if known is not None:
                metrics.DUPLICATES.inc()
                return intake.accepted(known.job_id, known.event_id, duplicate=True)
        row = None if submission.fresh_id else await self.r.jobs.get(submission.job_id)
        if row is not None:
            metrics.DUPLICATES.inc()
            return intake.accepted(
                str(row["id"]), row["submit_event_id"] or submission.event_id, duplicate=True
            )
        try:
            await self.r.sink.publish(intake.to_event(self.r.contracts, submission, now))
        except SinkUnavailable as exc:
            self.r.log.warning("publish failed: %s", exc, extra={"jobId": submission.job_id})
            raise Unavailable(f"the broker did not accept the job ({exc}); retry", RETRY_AFTER_S) from exc
        created = await self.r.jobs.record_pending(
            submission.job_id, submission.job_type, submission.payload, submission.correlation_id,
            submission.event_id,
        ) or await self.r.jobs.inserted_by_claim(submission.job_id, submission.event_id)  # fmt: skip
        if submission.idempotency_key is not None:
            await self.r.keys.put(submission.idempotency_key, submission.job_id, submission.event_id)
        metrics.ACCEPTED.inc()
        self.r.log.info("accepted %s job", submission.job_type,
                        extra={"jobId": submission.job_id, "eventId": submission.event_id})  # fmt: skip
        # The row may exist already for two reasons. The processor ran the event just published before
        # the record above (the broker is fast): that is still this submission, not a duplicate. Or a
        # concurrent submission of the same id recorded it first: then this one is the repeat.
        return intake.accepted(submission.job_id, submission.event_id, duplicate=not created)

    async def openapi(self) -> Response:
        try:
            return json_response(self.r.contracts.openapi("gateway", bundled=True))
        except ContractError as exc:
            raise Unavailable(f"the OpenAPI document is missing: {exc}") from exc


def build_app(env: Mapping[str, str]) -> FunctionApp:
    resources = GatewayResources(Settings.from_env(env))
    gateway = Gateway(resources)
    app = FunctionApp(NAME, resources)

    @app.route("POST", "/")
    async def submit_event(request: Request, params: dict[str, str]) -> Response:
        return await gateway.submit(request, plain=False)

    @app.route("POST", "/jobs")
    async def submit_job(request: Request, params: dict[str, str]) -> Response:
        return await gateway.submit(request, plain=True)

    @app.route("GET", "/openapi.json")
    async def openapi(request: Request, params: dict[str, str]) -> Response:
        return await gateway.openapi()

    return app
