"""The aggregator: every dev.observatory.job.* event into the audit trail and the live aggregates.

Both writes are idempotent on the CloudEvent source+id (a unique index in MongoDB, a dedupe marker in
the Redis script), so a redelivery after a half-done delivery completes it and counts nothing twice.
A store failure answers 503 so the broker retries; the answer on success is 200 with no body (no reply).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from functions.aggregator.audit import Contracts, audit
from functions.core.cloudevents import parse_request
from functions.core.contracts import default_registry
from functions.core.settings import Settings
from functions.core.stores.mongo import AuditStore
from functions.core.stores.redis import Aggregates
from functions.core.telemetry import configure_logging, correlation_id
from functions.core.web import FunctionApp

log = logging.getLogger("observatory.aggregator")


class AggregatorResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._audit: AuditStore | None = None
        self._aggregates: Aggregates | None = None

    @property
    def audit(self) -> AuditStore:
        assert self._audit is not None, "resources not started"
        return self._audit

    @property
    def aggregates(self) -> Aggregates:
        assert self._aggregates is not None, "resources not started"
        return self._aggregates

    async def start(self) -> None:
        s = self.settings
        self._audit = AuditStore.connect(s.mongodb_url, s.mongodb_database)
        self._aggregates = Aggregates.connect(s.redis_url, s.redis_prefix)
        await self._audit.ensure_indexes()

    async def stop(self) -> None:
        if self._audit is not None:
            await self._audit.close()
        if self._aggregates is not None:
            await self._aggregates.close()

    async def ready(self) -> dict[str, bool]:
        return {"mongodb": await self.audit.ping(), "redis": await self.aggregates.ping()}


def build_app(env: Mapping[str, str], *, contracts: Contracts | None = None) -> FunctionApp:
    settings = Settings.from_env(env)
    configure_logging("aggregator")
    resources = AggregatorResources(settings)
    app = FunctionApp("aggregator", resources)
    registry: Contracts = contracts or default_registry()

    @app.route("POST", "/")
    async def receive(request: Request, params: dict[str, str]) -> Response:
        events = parse_request(request.headers, await request.body())
        received_at = datetime.now(UTC)
        for event in events:
            outcome = audit(event, registry, received_at)
            doc = outcome.document
            correlation_id.set(doc["correlationid"])
            new = await resources.audit.append_event(doc)
            counted = False
            if outcome.count is not None:
                c = outcome.count
                counted = await resources.aggregates.apply(
                    source=c.source, event_id=c.event_id, event_type=c.event_type,
                    job_id=c.job_id, job_type=c.job_type, time_ms=c.time_ms,
                )  # fmt: skip
            if not doc["valid"]:
                log.warning(
                    "event breaks its contract: %s",
                    "; ".join(f"{v['pointer'] or '/'}: {v['message']}" for v in doc["violations"]),
                    extra={"jobId": doc["jobid"], "eventId": doc["id"], "eventType": doc["type"]},
                )
            log.debug(
                "event audited (new=%s counted=%s)", new, counted,
                extra={"jobId": doc["jobid"], "eventId": doc["id"], "eventType": doc["type"]},
            )  # fmt: skip
        return Response(status_code=200)

    return app
