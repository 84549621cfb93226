"""Helpers for the broker tests: a real RabbitMQ, real loopback subscribers, an isolated Broker per test.

Each ``running_broker`` gets a random broker UID, so its exchanges and queues are its own, and deletes
them afterwards. Waits are bounded by deadlines (``wait_until``), never asserted on elapsed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pika
import pytest

from knlocal import manifests
from knlocal.config import RuntimeConfig
from knlocal.eventing import topology
from knlocal.eventing.amqp import Connection
from knlocal.eventing.broker import Broker
from knlocal.serving.router import LoopbackServer

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
HINT = "start the services with `scripts/services.sh up` (make test does this)"
NS = "kit"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# (attempt number for this event id, request headers, body) -> (status, response headers, response body)
Script = Callable[[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def require_rabbitmq() -> None:
    try:
        pika.BlockingConnection(
            pika.URLParameters(RABBITMQ_URL + "?connection_attempts=1&socket_timeout=3")
        ).close()
    except Exception as exc:
        pytest.fail(f"RabbitMQ is not reachable ({exc.__class__.__name__}: {exc}); {HINT}", pytrace=False)


def ok(_n: int, _h: dict[str, str], _b: bytes) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b""


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def id(self) -> str:
        return self.headers.get("ce-id", "")

    @property
    def type(self) -> str:
        return self.headers.get("ce-type", "")


@dataclass
class Subscriber:
    """A subscriber on a real loopback port; ``script`` decides each answer; every request is recorded."""

    name: str
    script: Script = ok
    requests: list[Request] = field(default_factory=list)
    release: asyncio.Event | None = None  # when set, requests wait for it before answering

    def __post_init__(self) -> None:
        self.server = LoopbackServer(self, 0, self.name)
        self.url = ""

    async def start(self) -> str:
        port = await self.server.start()
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Request(headers, body, time.monotonic()))
        if self.release is not None:
            await self.release.wait()
        attempt = sum(1 for r in self.requests if r.id == headers.get("ce-id"))
        status, out_headers, out_body = self.script(attempt, headers, body)
        raw = [(k.encode(), v.encode()) for k, v in out_headers.items()]
        raw.append((b"content-length", str(len(out_body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": out_body})

    def ids(self) -> list[str]:
        return [r.id for r in self.requests]


def trigger(
    name: str,
    subscriber: str,
    *,
    filter_attributes: Mapping[str, str] | None = None,
    delivery: manifests.DeliverySpec | None = None,
    parallelism: int = 1,
    has_filters: bool = False,
) -> manifests.Trigger:
    return manifests.Trigger(
        name=name,
        namespace=NS,
        broker="default",
        filter_attributes=dict(filter_attributes or {}),
        has_filters=has_filters,
        subscriber=manifests.Destination(uri=subscriber),
        delivery=delivery,
        parallelism=parallelism,
        annotations={},
    )


def build_topology(
    triggers: list[manifests.Trigger], broker_delivery: manifests.DeliverySpec | None = None
) -> manifests.Topology:
    ref = manifests.Ref("eventing.knative.dev/v1alpha1", "RabbitmqBrokerConfig", "default-config", NS)
    broker = manifests.Broker("default", NS, "RabbitMQBroker", ref, broker_delivery)
    config = manifests.BrokerConfig("default-config", NS, None, "secret", "quorum", "")
    return manifests.Topology(
        services={},
        brokers={"default": broker},
        triggers={t.name: t for t in triggers},
        broker_configs={"default-config": config},
    )


def resolve(destination: manifests.Destination) -> str:
    assert destination.uri is not None, "the broker tests address subscribers by uri"
    return destination.uri


def runtime_config(rabbitmq_url: str = RABBITMQ_URL, **overrides: Any) -> RuntimeConfig:
    values: dict[str, Any] = {
        "rabbitmq_url": rabbitmq_url,
        "ingress_port": 0,
        "broker_uid": f"test-{secrets.token_hex(6)}",
        "retry_delay_scale": 1.0,
    }
    values.update(overrides)
    return RuntimeConfig(**values)


async def delete_topology(config: RuntimeConfig, topo: manifests.Topology) -> None:
    conn = Connection(config.rabbitmq_url, name="knlocal test cleanup")
    await conn.start()
    try:
        assert await conn.wait_ready(10), conn.last_error
        channel = await conn.channel()
        await topology.delete(channel, topology.plan(topo, topo.brokers["default"], config))
        channel.close()
    finally:
        await conn.stop()


@contextlib.asynccontextmanager
async def running_broker(
    topo: manifests.Topology, config: RuntimeConfig | None = None
) -> AsyncIterator[Broker]:
    require_rabbitmq()
    config = config or runtime_config()
    broker = Broker(config, topo, resolve)
    try:
        await broker.start()
        yield broker
    finally:
        await broker.stop(grace_s=5)
        await delete_topology(config, topo)


def event_headers(event_id: str, event_type: str, **extensions: str) -> dict[str, str]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/observatory/test",
        "ce-type": event_type,
        "content-type": "application/json",
    }
    headers.update({f"ce-{k}": v for k, v in extensions.items()})
    return headers


async def post_event(
    client: httpx.AsyncClient, url: str, event_id: str, event_type: str, data: Any = None, **extensions: str
) -> httpx.Response:
    body = json.dumps(data if data is not None else {"n": event_id}).encode()
    return await client.post(url, headers=event_headers(event_id, event_type, **extensions), content=body)


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)


def counters(broker: Broker, name: str) -> dict[str, Any]:
    for d in broker.stats()["dispatchers"]:
        if d["name"] == f"{NS}/{name}":
            return dict(d)
    raise KeyError(name)
