"""CloudEvents in the three shapes the broker handles: HTTP (binary or structured), AMQP, and back.

Pure functions, no I/O. The AMQP shape is eventing-rabbitmq's (``CloudEventToRabbitMQMessage``): one
header per attribute under its **unprefixed** name (extensions included, ``datacontenttype`` as
``content-type``, via ``filters.amqp_headers`` so routing and conversion cannot disagree),
``content_type`` = datacontenttype, ``message_id`` = id, body = data, persistent. Reading a message back
strips an optional ``ce-`` prefix, as the broker's own reader does, so messages written by the CloudEvents
AMQP binding are accepted too.

Header values on the way out to a subscriber are sent as text; characters outside printable ASCII are
percent-encoded (HTTP protocol binding §3.1.3.2). Space, ``"`` and ``%`` are left as they are because
the receiving SDK (cloudevents 1.x under functions-framework) does not percent-decode. On the way in,
``%XX`` sequences are decoded; a lone ``%`` is kept.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from knlocal.eventing.filters import amqp_headers

__all__ = [
    "AmqpMessage",
    "Event",
    "InvalidEvent",
    "from_amqp",
    "from_http",
    "looks_like_event",
    "to_amqp",
    "to_binary_http",
]

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REQUIRED = ("id", "source", "specversion", "type")
_NAME = re.compile(r"^[a-z0-9]+$")
# Printable ASCII plus space travels as is; anything else is percent-encoded (as UTF-8).
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F))


class InvalidEvent(ValueError):
    """The request or message is not a valid CloudEvent 1.0; the message says why (shown in a 400)."""


@dataclass(frozen=True)
class Event:
    """A CloudEvent: ``attributes`` (context attributes and extensions, without data) and raw ``data``."""

    attributes: Mapping[str, object]
    data: bytes = b""

    @property
    def id(self) -> str:
        return str(self.attributes["id"])

    @property
    def type(self) -> str:
        return str(self.attributes["type"])

    def with_extensions(self, extensions: Mapping[str, object]) -> Event:
        return Event({**self.attributes, **extensions}, self.data)


@dataclass(frozen=True)
class AmqpMessage:
    """What is published: headers plus the basic properties the broker ingress sets."""

    headers: dict[str, object]
    body: bytes
    content_type: str | None = None
    message_id: str | None = None
    delivery_mode: int = 2  # persistent


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _validate(attributes: dict[str, object]) -> dict[str, object]:
    for name in REQUIRED:
        value = attributes.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidEvent(f"required attribute {name!r} is missing or empty")
    if attributes["specversion"] != "1.0":
        raise InvalidEvent(f"specversion {attributes['specversion']!r} is not supported (only 1.0)")
    for name, value in attributes.items():
        if not _NAME.match(name):
            raise InvalidEvent(f"attribute name {name!r} must match [a-z0-9]+")
        if isinstance(value, bool | int | str):
            continue
        raise InvalidEvent(
            f"attribute {name!r} has a {type(value).__name__} value; only strings, integers, booleans"
        )
    time = attributes.get("time")
    if time is not None:
        try:
            datetime.fromisoformat(str(time).replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise InvalidEvent(f"attribute 'time' {time!r} is not an RFC 3339 timestamp") from exc
    return attributes


def _header_value(raw: str) -> str:
    return unquote(raw, errors="strict") if "%" in raw else raw


def _from_binary(headers: Mapping[str, str], body: bytes) -> Event:
    attributes: dict[str, object] = {}
    content_type = None
    for key, value in headers.items():
        lower = key.lower()
        if lower.startswith("ce-"):
            try:
                attributes[lower[3:]] = _header_value(value)
            except UnicodeDecodeError as exc:
                raise InvalidEvent(f"header {key!r} is not valid percent-encoded UTF-8") from exc
        elif lower == "content-type":
            content_type = value
    if content_type:
        attributes["datacontenttype"] = content_type
    return Event(_validate(attributes), body)


def _is_json(content_type: object) -> bool:
    media = _media_type(content_type if isinstance(content_type, str) else None)
    return not media or media == "application/json" or media.endswith("+json") or media == "text/json"


def _from_structured(body: bytes) -> Event:
    try:
        raw: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"structured body is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidEvent("structured body is not a JSON object")
    attributes = {k: v for k, v in raw.items() if k not in ("data", "data_base64") and v is not None}
    data = b""
    if raw.get("data_base64") is not None:
        if "data" in raw:
            raise InvalidEvent("both data and data_base64 are set")
        try:
            data = base64.b64decode(str(raw["data_base64"]), validate=True)
        except ValueError as exc:
            raise InvalidEvent("data_base64 is not base64") from exc
    elif raw.get("data") is not None:
        value = raw["data"]
        if isinstance(value, str) and not _is_json(attributes.get("datacontenttype")):
            data = value.encode()
        else:
            data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
            attributes.setdefault("datacontenttype", "application/json")
    return Event(_validate(attributes), data)


def from_http(headers: Mapping[str, str], body: bytes) -> Event:
    """Parse an HTTP request or response: structured by ``Content-Type``, else binary (``ce-*``).

    ``headers`` keys may be in any case. Raises ``InvalidEvent``; batches are refused, as the RabbitMQ
    broker ingress takes one event per request.
    """
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    media = _media_type(content_type)
    if media == STRUCTURED:
        return _from_structured(body)
    if media == BATCH:
        raise InvalidEvent("batched CloudEvents are not accepted; send one event per request")
    return _from_binary(headers, body)


def looks_like_event(headers: Mapping[str, str]) -> bool:
    """Whether a response claims to carry a CloudEvent (binary ``ce-specversion`` or structured)."""
    for key, value in headers.items():
        lower = key.lower()
        if lower == "ce-specversion" or (lower == "content-type" and _media_type(value) == STRUCTURED):
            return True
    return False


def to_amqp(event: Event) -> AmqpMessage:
    content_type = event.attributes.get("datacontenttype")
    return AmqpMessage(
        headers=amqp_headers(event.attributes),
        body=event.data,
        content_type=str(content_type) if content_type is not None else None,
        message_id=event.id,
    )


def from_amqp(headers: Mapping[str, object] | None, body: bytes, content_type: str | None = None) -> Event:
    """Read a broker message back into an event; ``ce-`` prefixes are optional. Raises ``InvalidEvent``.

    Headers that cannot be attribute names (``x-delivery-count``, ``x-death``) are skipped.
    """
    attributes: dict[str, object] = {}
    for key, value in (headers or {}).items():
        name = key[3:] if key.startswith("ce-") else key
        if name == "content-type":
            name = "datacontenttype"
        elif not _NAME.match(name):
            continue  # RabbitMQ's own headers (x-delivery-count on quorum queues, x-death) are no attributes
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        elif isinstance(value, datetime):
            value = value.isoformat().replace("+00:00", "Z")
        elif value is None:
            continue
        elif not isinstance(value, bool | int | str):
            value = str(value)
        attributes[name] = value
    if "datacontenttype" not in attributes and content_type:
        attributes["datacontenttype"] = content_type
    return Event(_validate(attributes), body)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_binary_http(event: Event) -> tuple[dict[str, str], bytes]:
    """Binary-mode HTTP headers and body, as the RabbitMQ dispatcher always sends (``delivery.format`` is ignored)."""
    headers: dict[str, str] = {}
    for name, value in event.attributes.items():
        text = quote(_text(value), safe=_SAFE)
        if name == "datacontenttype":
            headers["content-type"] = text
        else:
            headers[f"ce-{name}"] = text
    return headers, event.data
