"""The dead-letter sink: events the broker stopped retrying.

POST /   any CloudEvent (binary or structured), normally a dev.observatory.job.* event with the broker's
         knativeerrordest / knativeerrorcode / knativeerrordata extensions. Stored in MongoDB
         ``dead_letters`` (once per source+id). When it is a job.submitted event, the job is marked
         DEAD_LETTERED in PostgreSQL, counted in Redis, and the answer is a 200 with a
         dev.observatory.job.deadlettered reply; otherwise 200 without a body.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from functions.core.cloudevents import parse_request
from functions.core.contracts import default_registry
from functions.core.errors import BadRequest
from functions.core.settings import Settings
from functions.core.stores.mongo import AuditStore
from functions.core.stores.postgres import JobRepository, make_pool
from functions.core.stores.redis import Aggregates
from functions.core.telemetry import configure_logging
from functions.core.web import FunctionApp
from functions.deadletter.sink import DeadLetterSink

NAME = "deadletter"


class DeadLetterResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = configure_logging(NAME)
        self.contracts = default_registry()
        self.pool = make_pool(settings.database_url, max_size=min(settings.pg_pool_max, 4), name=NAME)
        self.jobs = JobRepository(self.pool)
        self.audit = AuditStore.connect(settings.mongodb_url, settings.mongodb_database)
        self.aggregates = Aggregates.connect(settings.redis_url, settings.redis_prefix)
        self.sink = DeadLetterSink(self.contracts, self.jobs, self.audit, self.aggregates, self.log)

    async def start(self) -> None:
        await self.pool.open(wait=True, timeout=10)
        await self.audit.ensure_indexes()

    async def stop(self) -> None:
        await self.pool.close()
        await self.audit.close()
        await self.aggregates.close()

    async def ready(self) -> dict[str, bool]:
        return {
            "postgres": await self.jobs.ping(),
            "mongodb": await self.audit.ping(),
            "redis": await self.aggregates.ping(),
        }


def build_app(env: Mapping[str, str]) -> FunctionApp:
    resources = DeadLetterResources(Settings.from_env(env))
    app = FunctionApp(NAME, resources)

    @app.route("POST", "/")
    async def receive(request: Request, params: dict[str, str]) -> Response:
        events = parse_request(request.headers, await request.body())
        if len(events) != 1:
            raise BadRequest(f"expected one dead-lettered CloudEvent, got a batch of {len(events)}")
        return await resources.sink.receive(events[0])

    return app
