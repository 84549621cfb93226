"""Fixtures for the gateway, processor and dead-letter tests (names start with ``fn_``).

``fn_sink`` is a real HTTP server on a free port standing in for the broker ingress behind K_SINK: it
answers 202 and records every CloudEvent posted to it, or answers the status a test sets (503 for "the
broker is down"). ``fn_client`` runs a FunctionApp in-process over ASGI against the real stores.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from functions.core.web import FunctionApp


@dataclass
class Posted:
    headers: dict[str, str]
    body: bytes

    @property
    def ce(self) -> dict[str, str]:
        """The ce-* attributes of a binary-mode event, without the prefix."""
        return {k[3:]: v for k, v in self.headers.items() if k.startswith("ce-")}


@dataclass
class RecordingSink:
    url: str
    status: int = 202
    posted: list[Posted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self, status: int = 202) -> None:
        with self.lock:
            self.status = status
            self.posted.clear()

    def of_type(self, event_type: str) -> list[Posted]:
        with self.lock:
            return [p for p in self.posted if p.headers.get("ce-type") == event_type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def fn_sink() -> Iterator[RecordingSink]:
    port = _free_port()
    sink = RecordingSink(url=f"http://127.0.0.1:{port}/")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        with sink.lock:
            status = sink.status
            if 200 <= status < 300:
                sink.posted.append(Posted({k.lower(): v for k, v in request.headers.items()}, body))
        await Response(status_code=status)(scope, receive, send)

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the recording sink did not start")
        time.sleep(0.02)
    yield sink
    server.should_exit = True
    thread.join(timeout=5)


def _asgi(app: FunctionApp) -> Callable[..., Any]:
    """A FunctionApp as a plain ASGI app (what functions-framework's http signature does for it)."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = await app.handle(Request(scope, receive))
        await response(scope, receive, send)

    return asgi


@contextlib.asynccontextmanager
async def _client(
    build: Callable[[Mapping[str, str]], FunctionApp], env: Mapping[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, FunctionApp]]:
    app = build(env)
    transport = httpx.ASGITransport(app=_asgi(app))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://function") as client:
            yield client, app
    finally:
        if app._started:
            await app.resources.stop()
        await asyncio.sleep(0)


FnClient = Callable[
    [Callable[[Mapping[str, str]], FunctionApp], Mapping[str, str]],
    contextlib.AbstractAsyncContextManager[tuple[httpx.AsyncClient, FunctionApp]],
]


@pytest.fixture
def fn_client() -> FnClient:
    """``async with fn_client(build_app, env) as (client, app)``: the function in-process over ASGI."""
    return _client


def _as_url(conninfo: str) -> str:
    """Settings want a postgresql:// URL; the shared fixture may hand out a key=value conninfo."""
    if conninfo.startswith(("postgresql://", "postgres://")):
        return conninfo
    parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = parts.get("user", "postgres")
    host = parts.get("host", "127.0.0.1")
    port = parts.get("port", "5432")
    return f"postgresql://{user}@{host}:{port}/{parts['dbname']}"


@pytest.fixture(scope="session")
def fn_services(services: Any) -> Any:
    """The shared ``services``, with ``database_url`` as a URL that ``Settings.from_env`` accepts."""
    return dataclasses.replace(services, database_url=_as_url(services.database_url))
