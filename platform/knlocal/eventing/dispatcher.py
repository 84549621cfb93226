"""One Trigger's dispatcher: its queue → the subscriber, with retries, replies and dead letters.

Semantics of the RabbitMQ broker's dispatcher (the numbers and decisions live in ``delivery``):

* manual ack, prefetch 100, ``parallelism`` workers fed in consumption order (1 = FIFO per Trigger);
* a binary-mode POST per attempt, ``delivery.timeout`` per attempt, retries in-process with the RabbitMQ
  timing; success = "not retryable", so a 400 counts as delivered;
* a 2xx whose body is a CloudEvent is a reply, published back into the broker exchange (in-process, not
  over HTTP) with the same retry timing; if it cannot be stored, the original goes to the dead letters with
  ``knativeerrordata``;
* after the last retry the event goes to the dead-letter exchange, or is dropped (with a warning) when the
  Trigger has no dead-letter sink.

The message is acked only once its outcome is durable: delivered, or the reply / dead letter confirmed by
RabbitMQ. If RabbitMQ is gone by then, it stays unacked and RabbitMQ redelivers it (at-least-once).

A dead-letter queue's dispatcher is the same class with ``dead_letter_exchange=None``: it delivers to the
dead-letter sink, and an event the sink keeps refusing is lost, as upstream (logged as such).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import httpx
import pika.spec

from knlocal.eventing.amqp import AmqpUnavailable, Channel, Connection, Publisher
from knlocal.eventing.deadletters import error_extensions, failed_copy
from knlocal.eventing.delivery import Action, RetryPolicy
from knlocal.eventing.message import (
    Event,
    InvalidEvent,
    from_amqp,
    from_http,
    looks_like_event,
    to_amqp,
    to_binary_http,
)

__all__ = ["PREFETCH", "Counters", "Dispatcher", "Route"]

log = logging.getLogger("knlocal.eventing.dispatcher")

PREFETCH = 100  # fixed in the RabbitMQ broker's dispatcher


@dataclass
class Counters:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    replies: int = 0
    in_flight: int = 0
    redelivered: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Route:
    """Everything one dispatcher needs to know; built by the broker from the topology plan."""

    name: str  # "<namespace>/<trigger>", or "<namespace>/<trigger> (dead letters)"
    queue: str
    url: str  # the subscriber (or dead-letter sink)
    policy: RetryPolicy  # with waits already scaled
    parallelism: int
    exchange: str  # the broker exchange, where replies go
    reply_dest: str  # the broker ingress URL, named in knativeerrordest when a reply cannot be stored
    dead_letter_exchange: str | None  # None: a failed event is dropped (or, for a DLQ, lost)
    is_dead_letter_queue: bool = False


@dataclass(frozen=True)
class _Delivery:
    channel: Channel
    tag: int
    redelivered: bool
    props: pika.spec.BasicProperties
    body: bytes


class Dispatcher:
    def __init__(
        self,
        route: Route,
        connection: Connection,
        publisher: Publisher,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.route = route
        self.counters = Counters()
        self._publisher = publisher
        # Its own small pool unless given one: httpcore walks every pooled connection on each request, so
        # a pool shared by all dispatchers costs each POST a walk over every subscriber's connections.
        # One POST per worker at a time, so ``parallelism`` connections is all it ever uses.
        self._owns_http = http is None
        self._http = http if http is not None else _own_client(route.parallelism)
        self._timeout = httpx.Timeout(route.policy.timeout_s)
        self._inbox: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._channel: Channel | None = None
        self._consumer_tag: str | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        connection.on_connected(self._consume)

    async def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"dispatch:{self.route.name}:{i}")
            for i in range(self.route.parallelism)
        ]

    async def _consume(self, connection: Connection) -> None:
        if self._stopping:
            return
        channel = await connection.channel()
        await channel.qos(PREFETCH)

        def on_message(
            method: pika.spec.Basic.Deliver, props: pika.spec.BasicProperties, body: bytes
        ) -> None:
            self._inbox.put_nowait(
                _Delivery(channel, int(method.delivery_tag), bool(method.redelivered), props, body)
            )

        self._consumer_tag = channel.consume(self.route.queue, on_message)
        self._channel = channel

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop consuming, let deliveries in progress finish (up to ``grace_s``), close the channel.

        Messages received but not started stay unacked and go back to the queue when the channel closes.
        """
        self._stopping = True
        channel, tag = self._channel, self._consumer_tag
        if channel is not None and tag is not None:
            with contextlib.suppress(AmqpUnavailable, TimeoutError):
                await asyncio.wait_for(channel.cancel(tag), 5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_s)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if channel is not None:
            channel.close()
        if self._owns_http:
            await self._http.aclose()

    async def _work(self) -> None:
        while not self._stopping:
            delivery = await self._inbox.get()
            if self._stopping or not delivery.channel.is_open:
                continue  # RabbitMQ will redeliver it
            self.counters.in_flight += 1
            self._idle.clear()
            try:
                await self._handle(delivery)
            except AmqpUnavailable as exc:
                log.warning(
                    "%s: outcome not stored (%s); the message will be redelivered", self.route.name, exc
                )
                delivery.channel.nack(delivery.tag)
            finally:
                self.counters.in_flight -= 1
                if self.counters.in_flight == 0:
                    self._idle.set()

    async def _handle(self, delivery: _Delivery) -> None:
        if delivery.redelivered:
            self.counters.redelivered += 1
        props = delivery.props
        try:
            event = from_amqp(props.headers, delivery.body, props.content_type)
        except InvalidEvent as exc:
            log.warning("%s: dropping a message that is not a CloudEvent: %s", self.route.name, exc)
            self.counters.dropped += 1
            delivery.channel.ack(delivery.tag)
            return
        headers, body = to_binary_http(event)
        policy = self.route.policy
        attempt = 0
        while True:
            attempt += 1
            response = await self._post(headers, body)
            step = policy.after_attempt(attempt, None if response is None else response.status_code)
            if step.action is Action.RETRY:
                self.counters.retried += 1
                await asyncio.sleep(step.delay_s)
                continue
            if step.action is Action.ACK:
                assert response is not None
                await self._succeeded(delivery, event, response)
            else:
                status = None if response is None else response.status_code
                await self._failed(delivery, event, error_extensions(self.route.url, status))
            break
        delivery.channel.ack(delivery.tag)

    async def _post(self, headers: dict[str, str], body: bytes) -> httpx.Response | None:
        try:
            return await self._http.post(self.route.url, headers=headers, content=body, timeout=self._timeout)
        except httpx.HTTPError as exc:
            log.info("%s: POST %s failed: %s", self.route.name, self.route.url, exc.__class__.__name__)
            return None

    async def _succeeded(self, delivery: _Delivery, event: Event, response: httpx.Response) -> None:
        reply = _reply_of(response)
        if reply is None:
            self.counters.delivered += 1
            return
        policy = self.route.policy
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._publisher.publish(self.route.exchange, to_amqp(reply))
            except AmqpUnavailable as exc:
                if attempt <= policy.retry:
                    await asyncio.sleep(policy.backoff(attempt))
                    continue
                log.warning(
                    "%s: reply %s to event %s not stored: %s", self.route.name, reply.id, event.id, exc
                )
                await self._failed(delivery, event, error_extensions(self.route.reply_dest, 503, str(exc)))
                return
            self.counters.delivered += 1
            self.counters.replies += 1
            return

    async def _failed(self, delivery: _Delivery, event: Event, extensions: dict[str, object]) -> None:
        exchange = self.route.dead_letter_exchange
        if exchange is None:
            self.counters.dropped += 1
            if self.route.is_dead_letter_queue:
                log.error(
                    "%s: event %s lost: the dead-letter sink %s refused it",
                    self.route.name,
                    event.id,
                    self.route.url,
                )
            else:
                log.warning(
                    "%s: event %s dropped after %d attempts: the trigger has no dead-letter sink",
                    self.route.name,
                    event.id,
                    self.route.policy.attempts,
                )
            return
        props = delivery.props
        await self._publisher.publish(
            exchange,
            failed_copy(props.headers, delivery.body, props.content_type, props.message_id, extensions),
        )
        self.counters.dead_lettered += 1


def _own_client(parallelism: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=None,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=max(parallelism, 1)),
    )


def _reply_of(response: httpx.Response) -> Event | None:
    if not 200 <= response.status_code <= 299 or not looks_like_event(response.headers):
        return None  # the RabbitMQ broker takes a non-CloudEvent body as plain success
    try:
        return from_http(dict(response.headers), response.content)
    except InvalidEvent as exc:
        log.info("ignoring a reply that is not a valid CloudEvent: %s", exc)
        return None
