"""The broker ingress (the URL functions get as ``K_SINK``): HTTP CloudEvent in, confirmed AMQP publish out.

Behaviour of the RabbitMQ broker's ingress: path ``/`` only (else 404), ``POST`` only (else 405), an
invalid CloudEvent is 400, and 202 is answered only after RabbitMQ confirmed the publish, so an accepted
event is durably enqueued. Where this differs, on purpose: RabbitMQ being unreachable or nacking is 503
with ``Retry-After`` (the RabbitMQ broker answers 500), because it is a temporary condition a sender
should retry, and ``K_SINK`` publishers treat 503 as retryable.

A raw ASGI app rather than a Starlette one: it has one route, and routing/request objects would only add
per-request work. Served by ``knlocal.serving.router.LoopbackServer`` (uvicorn).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from knlocal.eventing.amqp import AmqpUnavailable
from knlocal.eventing.message import AmqpMessage, Event, InvalidEvent, from_http, to_amqp

__all__ = ["MAX_BODY_BYTES", "Ingress", "IngressCounters"]

log = logging.getLogger("knlocal.eventing.ingress")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Publish = Callable[[AmqpMessage], Awaitable[None]]

MAX_BODY_BYTES = 8 * 1024 * 1024
RETRY_AFTER_S = "1"


@dataclass
class IngressCounters:
    accepted: int = 0
    invalid: int = 0
    unavailable: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "invalid": self.invalid, "unavailable": self.unavailable}


class Ingress:
    """ASGI app: ``POST /`` with one CloudEvent (binary or structured) → publish with confirm → 202."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self.counters = IngressCounters()

    async def accept(self, event: Event) -> None:
        """Publish one event and return once RabbitMQ confirmed it (the in-process path of replies)."""
        await self._publish(to_amqp(event))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/":
            await _respond(send, 404, "not found: the broker ingress takes events at /")
            return
        if scope["method"] != "POST":
            await _respond(send, 405, "method not allowed: POST a CloudEvent", [(b"allow", b"POST")])
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            event = from_http(headers, body)
        except InvalidEvent as exc:
            self.counters.invalid += 1
            await _respond(send, 400, f"invalid CloudEvent: {exc}")
            return
        try:
            await self.accept(event)
        except AmqpUnavailable as exc:
            self.counters.unavailable += 1
            log.warning("ingress: event %s not accepted: %s", event.id, exc)
            await _respond(
                send, 503, f"broker unavailable: {exc}", [(b"retry-after", RETRY_AFTER_S.encode())]
            )
            return
        self.counters.accepted += 1
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(
    send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
