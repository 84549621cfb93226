"""The read model: every client (Textual, web mirror, launcher page, Grafana) reads through this HTTP API.

Routes are registered on the shared ``FunctionApp``; ``ReadModelApp`` wraps it with CORS (allowlist
from settings, preflight answered here) because browsers call it from other origins and from file://.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from functions.core.contracts import ContractLoadError, ContractRegistry, default_registry
from functions.core.errors import ProblemError, Unavailable
from functions.core.settings import Settings
from functions.core.telemetry import configure_logging
from functions.core.web import FunctionApp, Handler, json_response, problem
from functions.readmodel import alerts, params, reads, replay, stream
from functions.readmodel.cors import ALLOW_METHODS, CorsPolicy
from functions.readmodel.resources import ReadModelResources

STREAM_PARAMS = ("interval", "heartbeat")


class OriginRefused(ProblemError):
    status, slug, title = 403, "origin-refused", "Origin not allowed"


def _version() -> str:
    try:
        return importlib.metadata.version("task-observatory")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


class ReadModelApp:
    def __init__(self, app: FunctionApp, cors: CorsPolicy) -> None:
        self.app = app
        self.cors = cors

    @property
    def resources(self) -> ReadModelResources:
        found = self.app.resources
        assert isinstance(found, ReadModelResources)
        return found

    async def handle(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if request.method == "OPTIONS":
            return self._preflight(request, origin)
        response = await self.app.handle(request)
        response.headers.update(self.cors.headers(origin))
        return response

    def _preflight(self, request: Request, origin: str | None) -> Response:
        if origin is None:  # not a CORS preflight: say what is allowed
            return Response(status_code=204, headers={"Allow": ALLOW_METHODS})
        if not self.cors.allows(origin):
            refused = problem(
                OriginRefused(f"origin {origin} is not in OBSERVATORY_CORS_ORIGINS"), request.url.path
            )
            refused.headers.update(self.cors.preflight(origin))
            return refused
        return Response(status_code=204, headers=self.cors.preflight(origin))


def build_app(env: Mapping[str, str], *, contracts: ContractRegistry | None = None) -> ReadModelApp:
    settings = Settings.from_env(env)
    configure_logging("readmodel")
    resources = ReadModelResources(settings)
    app = FunctionApp("readmodel", resources)
    registry = contracts or default_registry()
    probe = reads.RuntimeProbe(resources, settings.runtime_url)

    def route(method: str, template: str, summary: str) -> Callable[[Handler], Handler]:
        # The summary says what the route is for here; contracts/openapi/readmodel.json documents it.
        return app.route(method, template)

    @route("GET", "/health", "Liveness with a check of each store")
    async def health(request: Request, _: dict[str, str]) -> Response:
        checks = await resources.ready()
        status = "ok" if all(checks.values()) else "degraded"
        return json_response(
            {"status": status, "function": "readmodel", "version": _version(), "checks": checks}
        )

    @route("GET", "/stats", "Totals by status and type, throughput, latency percentiles (Redis only)")
    async def get_stats(request: Request, _: dict[str, str]) -> Response:
        params.reject_unknown(request.query_params, ())
        return json_response(await reads.stats(resources, await probe.get()))

    @route("GET", "/jobs", "Jobs newest first; filters status, type, since, until, q; keyset cursor")
    async def list_jobs(request: Request, _: dict[str, str]) -> Response:
        return json_response(await reads.list_jobs(resources, params.job_query(request.query_params)))

    @route("GET", "/jobs/recent", "The 10 newest jobs")
    async def recent_jobs(request: Request, _: dict[str, str]) -> Response:
        params.reject_unknown(request.query_params, ())
        page = await reads.list_jobs(resources, params.JobQuery(limit=10))
        return json_response({"items": page["items"]})

    @route("GET", "/jobs/{id}", "One job as PostgreSQL has it")
    async def get_job(request: Request, path: dict[str, str]) -> Response:
        return json_response(await reads.get_job(resources, params.uuid_of(path["id"], "id", "path")))

    @route("GET", "/jobs/{id}/timeline", "PostgreSQL, audit events, Redis markers and dead letters, merged")
    async def job_timeline(request: Request, path: dict[str, str]) -> Response:
        job_id = params.uuid_of(path["id"], "id", "path")
        return json_response(await reads.job_timeline(resources, job_id))

    @route("GET", "/events", "Audit events newest first; filters jobId, type; keyset cursor")
    async def list_events(request: Request, _: dict[str, str]) -> Response:
        return json_response(await reads.list_events(resources, params.event_query(request.query_params)))

    @route("GET", "/dead-letters", "Dead letters newest first; filter jobId; keyset cursor")
    async def list_dead_letters(request: Request, _: dict[str, str]) -> Response:
        query = params.dead_letter_query(request.query_params)
        return json_response(await reads.list_dead_letters(resources, query))

    @route("POST", "/dead-letters/{id}/replay", "Run a dead-lettered job again (bearer token; ?force=true)")
    async def replay_dead_letter(request: Request, path: dict[str, str]) -> Response:
        replay.check_token(settings.api_token, request.headers.get("authorization"))
        params.reject_unknown(request.query_params, ("force",))
        force = params.flag_of(request.query_params, "force")
        return json_response(await replay.replay(resources, registry, path["id"], force=force), 202)

    @route("GET", "/alerts", "Active alerts from Alertmanager (ALERTMANAGER_URL), or none with a note")
    async def get_alerts(request: Request, _: dict[str, str]) -> Response:
        return json_response(await alerts.active_alerts(resources.http, settings.alertmanager_url))

    @route("GET", "/stream", "Server-Sent Events: stats every tick, job on every change, heartbeats")
    async def get_stream(request: Request, _: dict[str, str]) -> Response:
        query = request.query_params
        params.reject_unknown(query, STREAM_PARAMS)
        options = stream.StreamOptions(
            interval_s=params.seconds_of(query, "interval", 1.0, 0.1, 60.0),
            heartbeat_s=params.seconds_of(query, "heartbeat", 15.0, 1.0, 300.0),
        )
        return StreamingResponse(
            stream.events(resources, probe, options),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @route("GET", "/openapi.json", "This API's OpenAPI document")
    async def openapi(request: Request, _: dict[str, str]) -> Response:
        try:
            return json_response(registry.openapi("readmodel", bundled=True))
        except ContractLoadError as exc:
            raise Unavailable(f"the OpenAPI document is missing: {exc}") from exc

    return ReadModelApp(app, CorsPolicy(settings.cors_origins))
