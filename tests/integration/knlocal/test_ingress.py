"""The broker ingress over real HTTP against a real RabbitMQ: 202 after confirm, 400/404/405, 503 when down."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx
import pika
import pytest

from knlocal.eventing.amqp import AmqpUnavailable
from knlocal.eventing.broker import Broker
from knlocal.eventing.message import AmqpMessage
from tests.conftest import free_port
from tests.integration.knlocal.brokerkit import (
    RABBITMQ_URL,
    build_topology,
    event_headers,
    post_event,
    resolve,
    running_broker,
    runtime_config,
)

pytestmark = pytest.mark.integration


def _bind_probe_queue(exchange: str) -> tuple[pika.BlockingConnection, str]:
    """A queue of the test's own, bound to the broker exchange with no filter, to look at what was published."""
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = conn.channel()
    queue = f"knlocal-test-probe-{secrets.token_hex(4)}"
    channel.queue_declare(queue, durable=False, auto_delete=False)
    channel.queue_bind(queue, exchange, "", arguments={"x-match": "all"})
    return conn, queue


async def test_202_means_the_event_is_in_the_queue_with_its_attributes_as_headers() -> None:
    async with running_broker(build_topology([])) as broker, httpx.AsyncClient() as client:
        conn, queue = await asyncio.to_thread(_bind_probe_queue, broker.plan.exchange)
        try:
            response = await post_event(
                client, broker.ingress_url, "e-1", "dev.observatory.job.submitted", {"a": 1}, jobid="j-1"
            )
            assert response.status_code == 202
            channel = conn.channel()
            method, props, body = channel.basic_get(queue, auto_ack=True)
            assert method is not None, "202 was answered but the message is not in the queue"
            assert props.headers == {
                "specversion": "1.0",
                "id": "e-1",
                "source": "/observatory/test",
                "type": "dev.observatory.job.submitted",
                "content-type": "application/json",
                "jobid": "j-1",
            }
            assert props.content_type == "application/json"
            assert props.message_id == "e-1"
            assert props.delivery_mode == 2
            assert json.loads(body) == {"a": 1}
        finally:
            conn.channel().queue_delete(queue)
            conn.close()
        assert broker.stats()["ingress"]["accepted"] == 1


async def test_structured_mode_is_published_like_binary() -> None:
    async with running_broker(build_topology([])) as broker, httpx.AsyncClient() as client:
        conn, queue = await asyncio.to_thread(_bind_probe_queue, broker.plan.exchange)
        try:
            event = {
                "specversion": "1.0",
                "id": "s-1",
                "source": "/x",
                "type": "t.structured",
                "count": 3,
                "data": {"k": "v"},
            }
            response = await client.post(
                broker.ingress_url,
                content=json.dumps(event).encode(),
                headers={"content-type": "application/cloudevents+json"},
            )
            assert response.status_code == 202
            method, props, body = conn.channel().basic_get(queue, auto_ack=True)
            assert method is not None
            assert props.headers["type"] == "t.structured"
            assert props.headers["count"] == 3  # extensions keep their JSON type, as RabbitMQ headers
            assert json.loads(body) == {"k": "v"}
        finally:
            conn.channel().queue_delete(queue)
            conn.close()


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({k: v for k, v in event_headers("x", "t").items() if k != "ce-id"}, b"{}"),
        ({**event_headers("x", "t"), "ce-specversion": "0.3"}, b"{}"),
        ({"content-type": "application/cloudevents+json"}, b"not json"),
        ({"content-type": "application/cloudevents+json"}, b'{"specversion": "1.0", "id": "1"}'),
        ({"content-type": "application/cloudevents-batch+json"}, b"[]"),
        ({"content-type": "application/json"}, b"{}"),
    ],
    ids=["no-id", "old-specversion", "structured-not-json", "structured-missing", "batch", "plain-json"],
)
async def test_invalid_events_are_400(headers: dict[str, str], body: bytes) -> None:
    async with running_broker(build_topology([])) as broker, httpx.AsyncClient() as client:
        response = await client.post(broker.ingress_url, headers=headers, content=body)
        assert response.status_code == 400, response.text
        assert "invalid CloudEvent" in response.json()["detail"]
        assert broker.stats()["ingress"]["invalid"] == 1


async def test_other_methods_are_405_and_other_paths_404() -> None:
    async with running_broker(build_topology([])) as broker, httpx.AsyncClient() as client:
        got = await client.get(broker.ingress_url)
        assert got.status_code == 405
        assert got.headers["allow"] == "POST"
        assert (await client.put(broker.ingress_url, content=b"{}")).status_code == 405
        other = await client.post(
            broker.ingress_url + "observatory/default", headers=event_headers("x", "t"), content=b"{}"
        )
        assert other.status_code == 404


async def test_503_with_retry_after_while_rabbitmq_is_unreachable() -> None:
    closed = free_port()  # nothing listens there
    config = runtime_config(rabbitmq_url=f"amqp://guest:guest@127.0.0.1:{closed}/%2F")
    broker = Broker(config, build_topology([]), resolve)
    await broker.start(connect_wait_s=0.5)
    try:
        async with httpx.AsyncClient() as client:
            response = await post_event(client, broker.ingress_url, "u-1", "t")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        stats = broker.stats()
        assert stats["rabbitmq"]["connected"] is False
        assert "connect" in stats["rabbitmq"]["last_error"]
        assert stats["ingress"]["unavailable"] == 1
    finally:
        await broker.stop()


async def test_a_channel_closed_by_the_server_is_reopened_for_the_next_publish() -> None:
    async with running_broker(build_topology([])) as broker, httpx.AsyncClient() as client:
        with pytest.raises(AmqpUnavailable, match="NOT_FOUND"):
            await broker.publisher.publish(f"{broker.plan.exchange}.missing", AmqpMessage({"id": "x"}, b""))
        response = await post_event(client, broker.ingress_url, "after-404", "t")
        assert response.status_code == 202
        assert broker.stats()["rabbitmq"]["connects"] == 1  # same connection, new channel
