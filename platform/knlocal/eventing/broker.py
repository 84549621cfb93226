"""One Broker's data plane in the runtime's event loop: topology, ingress, a dispatcher per Trigger.

``Broker(config, topology, resolve)`` wires the parts; the runtime assembly calls ``start()`` and
``stop()`` and reads ``stats()``. One AMQP connection carries everything: a confirm channel shared by the
ingress and the dispatchers' replies and dead letters, one channel per dispatcher, one for queue depths.
After a lost connection it reconnects with backoff, re-declares the topology and resumes consuming;
meanwhile the ingress answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from knlocal import manifests
from knlocal.config import RuntimeConfig
from knlocal.eventing import topology as rmq_topology
from knlocal.eventing.amqp import AmqpUnavailable, Channel, Connection, Publisher
from knlocal.eventing.delivery import RetryPolicy
from knlocal.eventing.dispatcher import Dispatcher, Route
from knlocal.eventing.ingress import Ingress
from knlocal.serving.router import LoopbackServer

__all__ = ["Broker", "BrokerError", "Resolve"]

log = logging.getLogger("knlocal.eventing.broker")

Resolve = Callable[[manifests.Destination], str]
DEPTH_POLL_S = 1.0
CONNECT_WAIT_S = 5.0


class BrokerError(Exception):
    """The manifests do not name one Broker this class can run."""


def _pick(topology: manifests.Topology, name: str | None) -> manifests.Broker:
    if name is not None:
        if name not in topology.brokers:
            raise BrokerError(f"no Broker {name!r} in the manifests")
        return topology.brokers[name]
    if len(topology.brokers) != 1:
        raise BrokerError(f"{len(topology.brokers)} Brokers in the manifests; name the one to run")
    return next(iter(topology.brokers.values()))


class Broker:
    def __init__(
        self,
        config: RuntimeConfig,
        topology: manifests.Topology,
        resolve: Resolve,
        *,
        broker: str | None = None,
    ) -> None:
        self.config = config
        self.broker = _pick(topology, broker)
        self.plan = rmq_topology.plan(topology, self.broker, config)
        self._resolve = resolve
        self.connection = Connection(config.rabbitmq_url, name=f"knlocal broker {self.plan.exchange}")
        self.connection.on_connected(self._declare)  # before the publisher and the consumers
        self.publisher = Publisher(self.connection)
        self.ingress = Ingress(self._publish)
        self._server = LoopbackServer(self.ingress, config.ingress_port, "broker-ingress")
        self.dispatchers: list[Dispatcher] = []
        self._depths: dict[str, int | None] = {q: None for q in self.plan.queues}
        self._poller: asyncio.Task[None] | None = None

    async def _publish(self, message: Any) -> None:
        await self.publisher.publish(self.plan.exchange, message)

    async def _declare(self, connection: Connection) -> None:
        channel = await connection.channel()
        try:
            await rmq_topology.declare(channel, self.plan)
        finally:
            channel.close()

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/"

    async def start(self, connect_wait_s: float = CONNECT_WAIT_S) -> None:
        """Serve the ingress, connect (waiting up to ``connect_wait_s`` for RabbitMQ, never failing on it)."""
        for line in rmq_topology.unsupported_filter_warnings(self.plan):
            log.warning("%s", line)
        await self._server.start()
        # Each dispatcher has its own HTTP client (one destination per pool; see ``Dispatcher``).
        for route in self._routes():
            self.dispatchers.append(Dispatcher(route, self.connection, self.publisher))
        for dispatcher in self.dispatchers:
            await dispatcher.start()
        await self.connection.start()
        if not await self.connection.wait_ready(connect_wait_s):
            log.warning(
                "broker: RabbitMQ not reachable yet (%s); the ingress answers 503", self.connection.last_error
            )
        self._poller = asyncio.create_task(self._poll_depths(), name="broker-queue-depths")

    def _routes(self) -> list[Route]:
        scale = self.config.retry_delay_scale
        broker_delivery = self.broker.delivery

        def route(
            name: str, queue: str, sink: manifests.Destination, policy: RetryPolicy, **kw: Any
        ) -> Route:
            return Route(
                name=name,
                queue=queue,
                url=self._resolve(sink),
                policy=policy.scaled(scale),
                exchange=self.plan.exchange,
                reply_dest=self.ingress_url,
                **kw,
            )

        routes = []
        for tp in self.plan.triggers:
            t = tp.trigger
            name = f"{t.namespace}/{t.name}"
            policy = RetryPolicy.from_spec(t.delivery, broker_delivery)
            routes.append(
                route(
                    name,
                    tp.queue,
                    t.subscriber,
                    policy,
                    parallelism=t.parallelism,
                    dead_letter_exchange=tp.dead_letter_exchange,
                )
            )
            if tp.dlq is not None and t.delivery is not None and t.delivery.dead_letter_sink is not None:
                routes.append(
                    route(
                        f"{name} (dead letters)",
                        tp.dlq,
                        t.delivery.dead_letter_sink,
                        policy,
                        parallelism=1,
                        dead_letter_exchange=None,
                        is_dead_letter_queue=True,
                    )
                )
        if self.plan.dlq is not None and broker_delivery is not None and broker_delivery.dead_letter_sink:
            routes.append(
                route(
                    f"{self.broker.namespace}/{self.broker.name} (dead letters)",
                    self.plan.dlq,
                    broker_delivery.dead_letter_sink,
                    RetryPolicy.from_spec(broker_delivery, None),
                    parallelism=1,
                    dead_letter_exchange=None,
                    is_dead_letter_queue=True,
                )
            )
        return routes

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop taking events, let deliveries in progress finish, close everything."""
        await self._server.stop()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await asyncio.gather(*(d.stop(grace_s) for d in self.dispatchers))
        await self.connection.stop()

    async def _poll_depths(self) -> None:
        channel: Channel | None = None
        while True:
            await asyncio.sleep(DEPTH_POLL_S)
            if not self.connection.connected:
                continue
            for queue in self._depths:
                try:
                    if channel is None or not channel.is_open:
                        channel = await self.connection.channel()
                    self._depths[queue] = await channel.queue_declare(queue, passive=True)
                except (AmqpUnavailable, TimeoutError):
                    self._depths[queue] = None

    def stats(self) -> dict[str, Any]:
        """The state shown by ``observatory status`` and the admin JSON."""
        return {
            "broker": f"{self.broker.namespace}/{self.broker.name}",
            "exchange": self.plan.exchange,
            "ingress": {"url": self.ingress_url, **self.ingress.counters.as_dict()},
            "rabbitmq": {
                "connected": self.connection.connected,
                "connects": self.connection.connects,
                "last_error": self.connection.last_error,
            },
            "dispatchers": [
                {
                    "name": d.route.name,
                    "queue": d.route.queue,
                    "subscriber": d.route.url,
                    "parallelism": d.route.parallelism,
                    "dead_letter_queue": d.route.is_dead_letter_queue,
                    "queue_depth": self._depths.get(d.route.queue),
                    **d.counters.as_dict(),
                }
                for d in self.dispatchers
            ],
        }
