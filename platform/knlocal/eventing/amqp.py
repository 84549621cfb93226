"""The broker's AMQP client: pika's asyncio adapter, awaitable channel calls, confirms, reconnection.

Why the asyncio adapter and not a ``BlockingConnection`` on an I/O thread: the ingress keeps many
publishes in flight on one confirm channel and matches the broker's acks to them by delivery tag, which
the adapter does on the event loop with no hop between threads (``bench_ingress.py`` prints both: the
blocking client only reaches its figures when it does not wait for each confirm).

Errors: every pika failure (connection refused or lost, channel closed by the server, nack) surfaces as
``AmqpUnavailable``; the ingress answers it with 503 and the dispatchers leave the message unacked, so
RabbitMQ redelivers it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pika
import pika.exceptions
import pika.frame
import pika.spec
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel as PikaChannel

from knlocal.eventing.message import AmqpMessage

__all__ = ["AmqpUnavailable", "Channel", "Connection", "OnMessage", "Publisher"]

log = logging.getLogger("knlocal.eventing.amqp")

OnMessage = Callable[[pika.spec.Basic.Deliver, pika.spec.BasicProperties, bytes], None]
Hook = Callable[["Connection"], Awaitable[None]]


class AmqpUnavailable(Exception):
    """RabbitMQ cannot take the request now: not connected, channel closed, or the publish was nacked."""


def _settle(fut: asyncio.Future[Any], value: Any = None, error: BaseException | None = None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)


class Channel:
    """One pika channel whose RPCs are awaitable and whose confirms resolve per-publish futures.

    When the channel closes (the server refused something, or the connection went away), every pending
    call and unconfirmed publish fails with ``AmqpUnavailable``.
    """

    def __init__(self, raw: PikaChannel) -> None:
        self._raw = raw
        self._loop = asyncio.get_running_loop()
        self._pending: set[asyncio.Future[Any]] = set()
        self._unconfirmed: dict[int, asyncio.Future[None]] = {}
        self._next_tag = 0
        self._confirming = False
        self.closed: asyncio.Future[str] = self._loop.create_future()
        raw.add_on_close_callback(self._on_close)

    @property
    def is_open(self) -> bool:
        return bool(self._raw.is_open)

    def _on_close(self, _channel: PikaChannel, reason: BaseException) -> None:
        error = AmqpUnavailable(f"channel closed: {reason}")
        for fut in [*self._pending, *self._unconfirmed.values()]:
            _settle(fut, error=error)
        self._pending.clear()
        self._unconfirmed.clear()
        _settle(self.closed, str(reason))

    def _rpc(self, method: Callable[..., Any], **kwargs: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = self._loop.create_future()
        if not self.is_open:
            fut.set_exception(AmqpUnavailable("channel is closed"))
            return fut
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)
        try:
            method(callback=lambda frame: _settle(fut, frame), **kwargs)
        except pika.exceptions.AMQPError as exc:
            _settle(fut, error=AmqpUnavailable(str(exc)))
        return fut

    async def exchange_declare(self, name: str, exchange_type: str = "headers") -> None:
        await self._rpc(self._raw.exchange_declare, exchange=name, exchange_type=exchange_type, durable=True)

    async def queue_declare(
        self, name: str, *, passive: bool = False, arguments: dict[str, Any] | None = None
    ) -> int:
        """Declare (or with ``passive`` only look up) a durable queue; returns its ready-message count."""
        frame = await self._rpc(
            self._raw.queue_declare, queue=name, passive=passive, durable=True, arguments=arguments
        )
        return int(frame.method.message_count)

    async def queue_bind(self, queue: str, exchange: str, arguments: dict[str, Any]) -> None:
        await self._rpc(
            self._raw.queue_bind, queue=queue, exchange=exchange, routing_key="", arguments=arguments
        )

    async def queue_delete(self, name: str) -> None:
        await self._rpc(self._raw.queue_delete, queue=name)

    async def exchange_delete(self, name: str) -> None:
        await self._rpc(self._raw.exchange_delete, exchange=name)

    async def qos(self, prefetch: int) -> None:
        await self._rpc(self._raw.basic_qos, prefetch_count=prefetch)

    async def confirm(self) -> None:
        """Put the channel in confirm mode; from now on ``publish`` futures settle on ack or nack."""
        await self._rpc(self._raw.confirm_delivery, ack_nack_callback=self._on_confirm)
        self._confirming = True

    def _on_confirm(self, frame: pika.frame.Method[Any]) -> None:
        method = frame.method
        tag = int(method.delivery_tag)
        nacked = isinstance(method, pika.spec.Basic.Nack)
        if method.multiple:
            # Tags were inserted in increasing order, so everything up to ``tag`` is at the front.
            settled = []
            for pending in self._unconfirmed:
                if pending > tag:
                    break
                settled.append(pending)
        else:
            settled = [tag]
        for pending in settled:
            fut = self._unconfirmed.pop(pending, None)
            if fut is not None:
                _settle(fut, error=AmqpUnavailable("RabbitMQ nacked the message") if nacked else None)

    def publish(self, exchange: str, message: AmqpMessage) -> asyncio.Future[None]:
        """Publish; the future resolves when RabbitMQ confirms (``confirm()`` first) or fails."""
        fut: asyncio.Future[None] = self._loop.create_future()
        if not self.is_open:
            fut.set_exception(AmqpUnavailable("channel is closed"))
            return fut
        props = pika.BasicProperties(
            headers=message.headers,
            content_type=message.content_type,
            message_id=message.message_id,
            delivery_mode=message.delivery_mode,
        )
        try:
            self._raw.basic_publish(exchange=exchange, routing_key="", body=message.body, properties=props)
        except pika.exceptions.AMQPError as exc:
            fut.set_exception(AmqpUnavailable(str(exc)))
            return fut
        if self._confirming:
            self._next_tag += 1
            self._unconfirmed[self._next_tag] = fut
        else:
            fut.set_result(None)
        return fut

    def consume(self, queue: str, on_message: OnMessage) -> str:
        def deliver(
            _ch: PikaChannel, method: pika.spec.Basic.Deliver, props: pika.spec.BasicProperties, body: bytes
        ) -> None:
            on_message(method, props, body)

        try:
            return str(self._raw.basic_consume(queue=queue, on_message_callback=deliver, auto_ack=False))
        except pika.exceptions.AMQPError as exc:
            raise AmqpUnavailable(str(exc)) from exc

    async def cancel(self, consumer_tag: str) -> None:
        await self._rpc(self._raw.basic_cancel, consumer_tag=consumer_tag)

    def ack(self, delivery_tag: int) -> bool:
        """Ack on this channel; ``False`` if it has closed (RabbitMQ then redelivers the message)."""
        if not self.is_open:
            return False
        try:
            self._raw.basic_ack(delivery_tag=delivery_tag)
        except pika.exceptions.AMQPError:
            return False
        return True

    def nack(self, delivery_tag: int) -> bool:
        """Give the message back to the queue now (its outcome could not be stored)."""
        if not self.is_open:
            return False
        try:
            self._raw.basic_nack(delivery_tag=delivery_tag, requeue=True)
        except pika.exceptions.AMQPError:
            return False
        return True

    def close(self) -> None:
        if self.is_open:
            self._raw.close()


class Connection:
    """One AMQP connection kept up by a background task: connect, run the hooks, wait, back off, retry.

    ``on_connected`` hooks run in order after every (re)connection and declare topology, open channels
    and start consumers; a failing hook drops the connection and the cycle starts again.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "knlocal",
        min_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": name}
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._hooks: list[Hook] = []
        self._raw: AsyncioConnection | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connects = 0
        self.last_error = ""

    def on_connected(self, hook: Hook) -> None:
        self._hooks.append(hook)

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="knlocal-amqp")

    async def wait_ready(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        self._stopping = True
        if self._raw is not None and not self._raw.is_closed and not self._raw.is_closing:
            self._raw.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except TimeoutError:
                self._task.cancel()

    async def channel(self) -> Channel:
        raw_conn = self._raw
        if raw_conn is None or not raw_conn.is_open:
            raise AmqpUnavailable("not connected to RabbitMQ")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[PikaChannel] = loop.create_future()
        try:
            raw_conn.channel(on_open_callback=lambda ch: _settle(fut, ch))
        except pika.exceptions.AMQPError as exc:
            raise AmqpUnavailable(str(exc)) from exc
        return Channel(await asyncio.wait_for(fut, 10))

    async def _connect(self) -> tuple[AsyncioConnection, asyncio.Future[str]]:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[AsyncioConnection] = loop.create_future()
        closed: asyncio.Future[str] = loop.create_future()

        def on_open_error(_conn: Any, error: BaseException | str) -> None:
            _settle(opened, error=AmqpUnavailable(f"cannot connect to RabbitMQ: {error}"))

        def on_close(_conn: Any, reason: BaseException) -> None:
            _settle(opened, error=AmqpUnavailable(f"connection closed: {reason}"))
            _settle(closed, str(reason))

        AsyncioConnection(
            self._params,
            on_open_callback=lambda conn: _settle(opened, conn),
            on_open_error_callback=on_open_error,
            on_close_callback=on_close,
            custom_ioloop=loop,
        )
        return await opened, closed

    async def _run(self) -> None:
        backoff = self._min_backoff_s
        while not self._stopping:
            try:
                self._raw, closed = await self._connect()
                for hook in self._hooks:
                    await hook(self)
            except (AmqpUnavailable, TimeoutError) as exc:
                self.last_error = str(exc)
                log.warning("RabbitMQ unavailable (%s); retrying in %.1fs", exc, backoff)
                if self._raw is not None and self._raw.is_open:
                    self._raw.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            self.connects += 1
            self._ready.set()
            backoff = self._min_backoff_s
            reason = await closed
            self._ready.clear()
            if not self._stopping:
                self.last_error = reason
                log.warning("RabbitMQ connection lost (%s); reconnecting", reason)


class Publisher:
    """Publishes with confirms on one channel, reopened after each reconnection.

    Shared by the ingress and by the dispatchers, which hand replies and dead letters to it in-process
    instead of POSTing them to the ingress (the RabbitMQ broker's dispatcher POSTs replies to its
    ``BROKER_INGRESS_URL``); the effect is the same, minus an HTTP round trip.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._channel: Channel | None = None
        self._reopening = asyncio.Lock()
        connection.on_connected(self._open)

    async def _open(self, connection: Connection) -> None:
        channel = await connection.channel()
        await channel.confirm()
        self._channel = channel

    @property
    def ready(self) -> bool:
        return self._channel is not None and self._channel.is_open and self._connection.connected

    async def publish(self, exchange: str, message: AmqpMessage) -> None:
        """Return once RabbitMQ has confirmed the message; raise ``AmqpUnavailable`` otherwise."""
        channel = self._channel
        if channel is None or not self._connection.connected:
            raise AmqpUnavailable("not connected to RabbitMQ")
        if not channel.is_open:
            # The server closed the channel (e.g. the exchange was deleted) but not the connection.
            async with self._reopening:
                if self._channel is channel:
                    await self._open(self._connection)
            if self._channel is None:
                raise AmqpUnavailable("no publisher channel")
            channel = self._channel
        await channel.publish(exchange, message)
