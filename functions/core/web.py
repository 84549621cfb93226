"""The thin HTTP layer every function shares under functions-framework's ASGI ``http`` signature.

functions-framework hands every path and method to one function; ``FunctionApp`` routes them, turns
``ProblemError`` into RFC 9457 problem+json, times every request, and opens the function's resources
once (on the first request or readiness probe), never at import and never per request.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.core.errors import (
    PROBLEM_JSON,
    MethodNotAllowed,
    NotFound,
    ProblemError,
    StoreError,
    Unavailable,
)
from functions.core.telemetry import HTTP_LATENCY, metrics_payload

Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


class Resources(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ready(self) -> dict[str, bool]: ...


def problem(err: ProblemError, instance: str | None = None) -> Response:
    return Response(
        json.dumps(err.body(instance)),
        status_code=err.status,
        media_type=PROBLEM_JSON,
        headers=err.headers,
    )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/") or "/")
    return re.compile(f"^{regex}/?$")


class FunctionApp:
    def __init__(self, name: str, resources: Resources) -> None:
        self.name = name
        self.resources = resources
        self._routes: list[_Route] = []
        self._started = False
        self._lock = asyncio.Lock()
        self.route("GET", "/metrics")(self._metrics)
        self.route("GET", "/healthz")(self._healthz)
        self.route("GET", "/readyz")(self._readyz)

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append(_Route(method, template, _compile(template), handler))
            return handler

        return register

    async def ensure_started(self) -> None:
        if self._started:
            return
        async with self._lock:
            if not self._started:
                await self.resources.start()
                self._started = True

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        template, status = "unmatched", 500
        try:
            template, response = await self._dispatch(request)
            status = response.status_code
            return response
        finally:
            HTTP_LATENCY.labels(self.name, request.method, template, str(status)).observe(
                time.perf_counter() - started
            )

    async def _dispatch(self, request: Request) -> tuple[str, Response]:
        route, params, allowed = self._match(request.method, request.url.path)
        if route is None:
            err: ProblemError = (
                MethodNotAllowed(f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}")
                if allowed
                else NotFound(f"no route for {request.url.path}")
            )
            return "unmatched", problem(err, request.url.path)
        try:
            if route.handler not in (self._metrics, self._healthz):
                await self.ensure_started()
            return route.template, await route.handler(request, params)
        except ProblemError as err:
            return route.template, problem(err, request.url.path)
        except StoreError as exc:
            return route.template, problem(Unavailable(f"{exc}; retry shortly"), request.url.path)

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], set[str]]:
        allowed: set[str] = set()
        for route in self._routes:
            match = route.pattern.match(path)
            if match:
                if route.method == method or (method == "HEAD" and route.method == "GET"):
                    return route, match.groupdict(), allowed
                allowed.add(route.method)
        return None, {}, allowed

    async def _metrics(self, request: Request, params: dict[str, str]) -> Response:
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    async def _healthz(self, request: Request, params: dict[str, str]) -> Response:
        return json_response({"status": "ok", "function": self.name})

    async def _readyz(self, request: Request, params: dict[str, str]) -> Response:
        checks = await self.resources.ready()
        ok = all(checks.values())
        return json_response({"status": "ready" if ok else "not ready", "checks": checks}, 200 if ok else 503)
