"""The router over real loopback HTTP: proxying, streaming, containerConcurrency, buffering at zero, draining.

Upstream "instances" are tiny ASGI apps served by the runtime's own ``LoopbackServer``; every request
crosses a real socket. Waits are bounded by events and deadlines, never asserted on elapsed time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from knlocal.serving.activator import Endpoint
from knlocal.serving.router import LoopbackServer, Receive, Router, Scope, Send, bind_loopback

pytestmark = pytest.mark.integration


class Upstream:
    """An instance stand-in: echoes requests; ``/slow`` waits on ``release``; ``/stream`` sends chunks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = asyncio.Event()
        self.entered = 0
        self.entered_event = asyncio.Event()
        self.stream_next = asyncio.Event()
        self.server = LoopbackServer(self, 0, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self.entered += 1
        self.entered_event.set()
        if scope["path"] == "/slow":
            await self.release.wait()
        if scope["path"] == "/stream":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            await send({"type": "http.response.body", "body": b"data: one\n\n", "more_body": True})
            await self.stream_next.wait()
            await send({"type": "http.response.body", "body": b"data: two\n\n", "more_body": False})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        payload = json.dumps(
            {
                "instance": self.name,
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode(),
                "body": body.decode(),
                "x-test": headers.get("x-test"),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def start(self) -> Endpoint:
        port = await self.server.start()
        return Endpoint("svc", self.name, f"http://127.0.0.1:{port}")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


async def make_router(
    proxy: httpx.AsyncClient, cc: int = 0, timeout_s: float = 30.0, poke: Callable[[], None] = lambda: None
) -> Router:
    router = Router(
        "svc", port=0, container_concurrency=cc, timeout_seconds=timeout_s, client=proxy, poke=poke
    )
    await router.start()
    return router


async def until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.01)


async def test_proxies_method_path_query_body_and_headers(client: httpx.AsyncClient) -> None:
    up = Upstream("a")
    router = await make_router(client)
    try:
        router.add_endpoint(await up.start())
        resp = await client.post(router.url + "/x/y?z=1", content=b"hello", headers={"X-Test": "t"})
        assert resp.status_code == 201
        assert resp.json() == {
            "instance": "a",
            "method": "POST",
            "path": "/x/y",
            "query": "z=1",
            "body": "hello",
            "x-test": "t",
        }
    finally:
        await router.stop()
        await up.server.stop()


async def test_least_in_flight_balancing(client: httpx.AsyncClient) -> None:
    a, b = Upstream("a"), Upstream("b")
    router = await make_router(client)
    try:
        router.add_endpoint(await a.start())
        router.add_endpoint(await b.start())
        first = asyncio.create_task(client.get(router.url + "/slow"))
        await until(lambda: a.entered + b.entered == 1)
        busy = a if a.entered else b
        idle = b if busy is a else a
        # While one instance holds a request, every new one goes to the other.
        for _ in range(5):
            assert (await client.get(router.url + "/fast")).json()["instance"] == idle.name
        busy.release.set()
        assert (await first).status_code == 201
    finally:
        await router.stop()
        await a.server.stop()
        await b.server.stop()


async def test_container_concurrency_queue_then_503(client: httpx.AsyncClient) -> None:
    up = Upstream("a")
    router = await make_router(client, cc=1)
    try:
        router.add_endpoint(await up.start())
        # cc=1: one request on the instance, ten queued (10 x cc), the twelfth is refused at once.
        held = [asyncio.create_task(client.get(router.url + "/slow")) for _ in range(11)]
        await until(lambda: up.entered == 1 and router.gate.queued == 10)
        refused = await client.get(router.url + "/slow")
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert "pending request queue full" in refused.json()["detail"]
        up.release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [201] * 11
        assert up.entered == 11
    finally:
        await router.stop()
        await up.server.stop()


async def test_request_at_zero_pokes_and_is_served_when_an_instance_arrives(
    client: httpx.AsyncClient,
) -> None:
    pokes: list[int] = []
    up = Upstream("a")
    router = await make_router(client, poke=lambda: pokes.append(1))
    try:
        pending = asyncio.create_task(client.post(router.url + "/job", content=b"{}"))
        await until(lambda: router.gate.queued == 1)
        assert pokes == [1]
        assert router.meter.in_flight == 1  # the buffered request counts for the autoscaler
        router.add_endpoint(await up.start())
        resp = await pending
        assert resp.status_code == 201 and resp.json()["body"] == "{}"
    finally:
        await router.stop()
        await up.server.stop()


async def test_request_at_zero_times_out_with_504_problem(client: httpx.AsyncClient) -> None:
    router = await make_router(client, timeout_s=0.3)
    try:
        resp = await client.get(router.url + "/")
        assert resp.status_code == 504
        assert resp.json()["status"] == 504
        assert router.gate.queued == 0
    finally:
        await router.stop()


async def test_streams_response_chunks_as_they_come(client: httpx.AsyncClient) -> None:
    up = Upstream("a")
    router = await make_router(client)
    try:
        router.add_endpoint(await up.start())
        async with client.stream("GET", router.url + "/stream") as resp:
            assert resp.headers["content-type"] == "text/event-stream"
            chunks = resp.aiter_raw()
            # The first event arrives while the upstream is still holding the second one back.
            assert await anext(chunks) == b"data: one\n\n"
            up.stream_next.set()
            rest = b"".join([c async for c in chunks])
        assert rest == b"data: two\n\n"
    finally:
        await router.stop()
        await up.server.stop()


async def test_refused_connection_is_retried_on_another_instance(client: httpx.AsyncClient) -> None:
    unreachable: list[str] = []
    up = Upstream("live")
    router = Router(
        "svc",
        port=0,
        container_concurrency=0,
        timeout_seconds=5,
        client=client,
        unreachable=lambda e: unreachable.append(e.name),
    )
    await router.start()
    dead_sock = bind_loopback(0)  # a port nobody listens on once closed
    dead_port = dead_sock.getsockname()[1]
    dead_sock.close()
    try:
        router.add_endpoint(Endpoint("svc", "dead", f"http://127.0.0.1:{dead_port}"))
        router.add_endpoint(await up.start())
        for _ in range(3):
            assert (await client.get(router.url + "/")).json()["instance"] == "live"
        assert unreachable == ["dead"]
    finally:
        await router.stop()
        await up.server.stop()


async def test_only_dead_instances_give_502(client: httpx.AsyncClient) -> None:
    router = await make_router(client, timeout_s=0.5)
    sock = bind_loopback(0)
    port = sock.getsockname()[1]
    sock.close()
    try:
        router.add_endpoint(Endpoint("svc", "dead", f"http://127.0.0.1:{port}"))
        resp = await client.get(router.url + "/")
        # The dead instance is taken out of rotation; the retry then waits for a live one and times out.
        assert resp.status_code in (502, 504)
        assert resp.headers["content-type"] == "application/problem+json"
    finally:
        await router.stop()


async def test_drain_waits_for_in_flight_and_routes_new_requests_elsewhere(client: httpx.AsyncClient) -> None:
    a, b = Upstream("a"), Upstream("b")
    router = await make_router(client)
    try:
        ea = await a.start()
        router.add_endpoint(ea)
        held = asyncio.create_task(client.get(router.url + "/slow"))
        await until(lambda: a.entered == 1)
        router.add_endpoint(await b.start())
        drain = asyncio.create_task(router.drain(ea, 30))
        await until(lambda: ea.draining)
        assert (await client.get(router.url + "/")).json()["instance"] == "b"
        assert not drain.done()
        a.release.set()
        assert (await held).status_code == 201
        assert await drain is True
        assert ea not in router.gate.endpoints
    finally:
        await router.stop()
        await a.server.stop()
        await b.server.stop()


async def test_meter_counts_time_averaged_concurrency_and_requests() -> None:
    now = [0.0]
    from knlocal.serving.router import ConcurrencyMeter

    meter = ConcurrencyMeter(clock=lambda: now[0])
    meter.arrive()  # t=0: 1 in flight
    now[0] = 0.5
    meter.arrive()  # t=0.5: 2 in flight
    now[0] = 1.0
    assert meter.sample() == (1.5, 2)
    now[0] = 1.5
    meter.depart()
    meter.depart()
    now[0] = 2.0
    assert meter.sample() == (1.0, 0)
    now[0] = 3.0
    assert meter.sample() == (0.0, 0)
