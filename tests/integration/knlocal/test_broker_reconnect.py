"""A lost AMQP connection: the ingress answers 503 meanwhile, then the broker reconnects and delivers again.

The connection is closed by RabbitMQ itself (management API), as a broker restart or a network cut would.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.knlocal.brokerkit import (
    Subscriber,
    build_topology,
    counters,
    post_event,
    running_broker,
    trigger,
    wait_until,
)

pytestmark = pytest.mark.integration

MANAGEMENT = "http://127.0.0.1:15672/api"


async def _close_connection(client_name: str) -> None:
    async with httpx.AsyncClient(auth=("guest", "guest")) as api:
        found: list[str] = []
        for _ in range(50):  # the management API lists a new connection with a little delay
            listed = (await api.get(f"{MANAGEMENT}/connections")).json()
            found = [c["name"] for c in listed if c.get("user_provided_name") == client_name]
            if found:
                break
            await asyncio.sleep(0.1)
        assert found, f"no RabbitMQ connection named {client_name!r}"
        response = await api.delete(f"{MANAGEMENT}/connections/{found[0]}")
        assert response.status_code == 204, response.text


async def test_the_broker_recovers_from_a_closed_connection() -> None:
    sub = Subscriber("after")
    await sub.start()
    topo = build_topology([trigger("after", sub.url)])
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            await post_event(client, broker.ingress_url, "before", "t")
            await wait_until(lambda: sub.ids() == ["before"], what="delivery before the cut")
            await _close_connection(f"knlocal broker {broker.plan.exchange}")
            await wait_until(lambda: not broker.connection.connected, what="the loss to be noticed")
            await wait_until(lambda: broker.connection.connected, what="the reconnection")
            assert broker.stats()["rabbitmq"]["connects"] == 2
            response = await post_event(client, broker.ingress_url, "after", "t")
            assert response.status_code == 202
            await wait_until(lambda: sub.ids() == ["before", "after"], what="delivery after the reconnection")
            assert counters(broker, "after")["delivered"] == 2
    finally:
        await sub.server.stop()
