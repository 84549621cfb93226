"""The processor function: runs each job.submitted event once and replies job.completed or job.failed.

POST /   a job.submitted CloudEvent (binary mode from the broker; structured also accepted).
         200 + job.completed / job.failed reply (binary mode) when the job ended;
         200 without a body for an event that is not ours (another type, or another generation);
         503 for a retryable failure, so the broker delivers it again (and dead-letters it at the end),
         and 503 + Retry-After for a delivery of a job that still runs under another instance's lease
         after waiting up to one lease for it (PROCESSOR_LEASE_SECONDS, default 6 s) to end or lapse.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from functions.core.contracts import default_registry
from functions.core.sink import Sink
from functions.core.stores.postgres import JobRepository, make_pool
from functions.core.telemetry import configure_logging
from functions.core.web import FunctionApp
from functions.processor.decisions import LeaseTiming
from functions.processor.flow import Processor
from functions.processor.invalid_store import InvalidEvents
from functions.processor.registry import HandlerRegistry
from functions.processor.settings import ProcessorSettings

NAME = "processor"


class ProcessorResources:
    def __init__(self, settings: ProcessorSettings) -> None:
        base = settings.base
        self.settings = settings
        self.log = configure_logging(NAME)
        self.contracts = default_registry()
        # Discovered now, not on the first job: a schema without a handler must stop the start-up.
        self.handlers = HandlerRegistry.discover(self.contracts.job_types(), settings.timeout_scale)
        self.pool = make_pool(base.database_url, max_size=base.pg_pool_max, name=NAME)
        self.jobs = JobRepository(self.pool)
        self.invalid = InvalidEvents(base.mongodb_url, base.mongodb_database)
        self.sink = Sink(base.k_sink) if base.k_sink else None
        self.processor = Processor(
            self.contracts, self.handlers, self.jobs, self.sink, self.invalid,
            lease=LeaseTiming(settings.lease_s), log=self.log,
        )  # fmt: skip

    async def start(self) -> None:
        await self.pool.open(wait=True, timeout=10)

    async def stop(self) -> None:
        await self.pool.close()
        await self.invalid.close()
        if self.sink is not None:
            await self.sink.close()

    async def ready(self) -> dict[str, bool]:
        return {"postgres": await self.jobs.ping()}


def build_app(env: Mapping[str, str]) -> FunctionApp:
    resources = ProcessorResources(ProcessorSettings.from_env(env))
    app = FunctionApp(NAME, resources)

    @app.route("POST", "/")
    async def deliver(request: Request, params: dict[str, str]) -> Response:
        return await resources.processor.handle(request.headers, await request.body())

    return app
