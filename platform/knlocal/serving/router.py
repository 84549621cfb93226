"""One router per Service: the stable local URL in front of its instances (activator + queue-proxy role).

The router reads each request body, asks the ``Gate`` for an instance with a free slot (waiting while the
Service scales from zero), and proxies the request over a pooled keep-alive httpx client, streaming the
response back chunk by chunk (the read model's ``/stream`` is Server-Sent Events). Each router owns its
client unless given one: httpcore walks every pooled connection (and polls its socket) on each request,
so one client shared by every router made that walk the runtime's biggest cost. It counts what the autoscaler observes: requests in flight from arrival to the last byte, queued ones included, as Knative's
activator and queue-proxy count them.

Failure choice: a request whose connection to the instance could not even be opened (the instance died or
is not listening) never reached it, so it is retried on another instance, whatever its method. A request
that was sent and then lost (the instance died mid-request) is answered 502: the router cannot know
whether the function acted on it, and the broker's dispatchers already retry on 5xx with the same event
id, which the functions handle idempotently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import httpx
import uvicorn

from knlocal.serving.activator import AdmissionTimeout, Endpoint, Gate, QueueFull

__all__ = ["BindError", "ConcurrencyMeter", "LoopbackServer", "Router", "bind_loopback"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# RFC 9110 §7.6.1 connection-specific fields, never forwarded by a proxy.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
_CONNECT_ATTEMPTS = 3
# Idle connections a router keeps to its instances, at least; a Service's containerConcurrency raises it.
DEFAULT_KEEPALIVE = 32


class BindError(Exception):
    """A loopback port the runtime needs is taken."""


def bind_loopback(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0 picks a free one); ``BindError`` names the port."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the listening
    # socket's proto says TCP. Without it every response written in two parts waits ~40 ms for the
    # client's delayed ACK (measured: 16 jobs/s at concurrency 1 through the gateway's router).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise BindError(f"127.0.0.1:{port} is in use ({exc.strerror})") from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class _EmbeddedServer(uvicorn.Server):
    # Several servers share one process and the runtime owns SIGINT/SIGTERM; uvicorn's own capture
    # would re-raise the signal after each server stops.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LoopbackServer:
    """An ASGI app served by uvicorn inside the runtime's event loop, on a socket bound up front."""

    def __init__(self, app: ASGIApp, port: int, name: str) -> None:
        self.name = name
        self._app = app
        self._wanted_port = port
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = port

    async def start(self) -> int:
        sock = bind_loopback(self._wanted_port)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=5
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=f"http:{self.name}")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise BindError(f"{self.name}: server on 127.0.0.1:{self.port} stopped while starting")
            await asyncio.sleep(0.01)
        return self.port

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._server.force_exit = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 2.0)


class ConcurrencyMeter:
    """Time-averaged requests in flight and requests started, sampled (and reset) once a second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.in_flight = 0
        self._area = 0.0
        self._since = clock()
        self._last_change = self._since
        self._requests = 0

    def _advance(self) -> float:
        now = self._clock()
        self._area += self.in_flight * (now - self._last_change)
        self._last_change = now
        return now

    def arrive(self) -> None:
        self._advance()
        self.in_flight += 1
        self._requests += 1

    def depart(self) -> None:
        self._advance()
        self.in_flight -= 1

    def sample(self) -> tuple[float, int]:
        """(average concurrency since the last sample, requests that arrived since then)."""
        now = self._advance()
        span = now - self._since
        average = self._area / span if span > 0 else float(self.in_flight)
        requests = self._requests
        self._area, self._since, self._requests = 0.0, now, 0
        return average, requests


def _problem(status: int, title: str, detail: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    return status, headers, body


def _own_client(container_concurrency: int) -> httpx.AsyncClient:
    keepalive = max(container_concurrency, DEFAULT_KEEPALIVE)
    return httpx.AsyncClient(
        timeout=None, limits=httpx.Limits(max_connections=None, max_keepalive_connections=keepalive)
    )


class Router:
    """The local address of one Service; an ASGI app served on its own loopback port."""

    def __init__(
        self,
        service: str,
        *,
        port: int,
        container_concurrency: int,
        timeout_seconds: float,
        client: httpx.AsyncClient | None = None,
        poke: Callable[[], None] = lambda: None,
        unreachable: Callable[[Endpoint], None] = lambda _e: None,
    ) -> None:
        self.service = service
        self.timeout_seconds = timeout_seconds
        self.meter = ConcurrencyMeter()
        self.gate = Gate(container_concurrency, on_first_waiter=poke)
        self.rejected = 0
        # Owned: made here, closed by stop(). Connections open as needed (the gate bounds them per instance);
        # only the idle ones kept are capped, near what the Service holds in flight.
        self._owns_client = client is None
        self._client = client if client is not None else _own_client(container_concurrency)
        self._unreachable = unreachable
        self._server = LoopbackServer(self, port, f"router:{service}")

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    async def start(self) -> int:
        return await self._server.start()

    async def stop(self, grace: float = 5.0) -> None:
        await self._server.stop(grace)
        if self._owns_client:
            await self._client.aclose()

    # -- endpoint set, driven by the supervisor ---------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint) -> None:
        self.gate.add(endpoint)

    def remove_endpoint(self, endpoint: Endpoint) -> None:
        self.gate.remove(endpoint)

    async def drain(self, endpoint: Endpoint, wait_s: float) -> bool:
        """Route nothing new to ``endpoint`` and wait for its requests to finish; False on timeout."""
        self.gate.start_draining(endpoint)
        try:
            await asyncio.wait_for(endpoint.idle.wait(), wait_s)
            return True
        except TimeoutError:
            return False
        finally:
            self.gate.remove(endpoint)

    # -- ASGI ------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.meter.arrive()
        try:
            # The client may leave mid-stream (an SSE reader closing): stop proxying when it does.
            work = asyncio.create_task(self._handle(scope, b"".join(chunks), send))
            watch = asyncio.create_task(self._wait_disconnect(receive))
            done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
            for task in (work, watch):
                if task not in done:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if work in done:
                work.result()
        finally:
            self.meter.depart()

    @staticmethod
    async def _wait_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _respond(self, send: Send, response: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        status, headers, body = response
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, body: bytes, send: Send) -> None:
        tried: set[int] = set()
        for _attempt in range(_CONNECT_ATTEMPTS):
            try:
                endpoint = await self.gate.acquire(self.timeout_seconds)
            except QueueFull as exc:
                self.rejected += 1
                await self._respond(send, _problem(503, "Service Unavailable", f"{self.service}: {exc}"))
                return
            except AdmissionTimeout as exc:
                self.rejected += 1
                await self._respond(
                    send, _problem(504, "Gateway Timeout", f"{self.service}: {exc} (scaling up from zero?)")
                )
                return
            tried.add(id(endpoint))
            try:
                sent = await self._proxy(scope, body, endpoint, send)
            finally:
                self.gate.release(endpoint)
            if sent:
                return
            # Connection refused: the instance is gone or not listening; the request never reached it.
            self.gate.start_draining(endpoint)
            self._unreachable(endpoint)
        await self._respond(
            send, _problem(502, "Bad Gateway", f"{self.service}: no instance accepted the connection")
        )

    async def _proxy(self, scope: Scope, body: bytes, endpoint: Endpoint, send: Send) -> bool:
        """Forward one request; False when the connection could not be opened (safe to retry elsewhere)."""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        client_addr = scope.get("client")
        if client_addr:
            headers.append((b"x-forwarded-for", str(client_addr[0]).encode()))
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        url = endpoint.url + path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        request = self._client.build_request(
            scope["method"],
            url,
            headers=headers,
            content=body,
            timeout=httpx.Timeout(self.timeout_seconds, connect=5.0),
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.ConnectError:
            return False
        except httpx.TimeoutException:
            await self._respond(
                send,
                _problem(
                    504, "Gateway Timeout", f"{self.service}: no response within {self.timeout_seconds:g}s"
                ),
            )
            return True
        except httpx.TransportError as exc:
            await self._respond(
                send,
                _problem(502, "Bad Gateway", f"{self.service}: instance {endpoint.name} failed: {exc!r}"),
            )
            return True
        try:
            out_headers = [
                (k.lower(), v)
                for k, v in response.headers.raw
                if k.lower() not in _HOP_BY_HOP or k.lower() == b"content-length"
            ]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out_headers}
            )
            try:
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.TransportError:
                pass  # the instance died mid-body; ending the body lets the client see a short response
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()
        return True
