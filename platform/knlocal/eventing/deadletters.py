"""Dead letters as the RabbitMQ broker's dispatcher makes them: the original message plus error extensions.

The dispatcher acks the failed message and publishes a copy to a DLX exchange (the Trigger's when its own
delivery has a dead-letter sink, else the Broker's); the DLQ bound there keeps it durably until a DLQ
dispatcher delivers it to the sink. The extensions are the RabbitMQ broker's:

* ``knativeerrordest``: the URL that failed (the subscriber, or the ingress when a reply could not be stored);
* ``knativeerrorcode``: the HTTP status (an integer), ``-1`` when there was no HTTP response;
* ``knativeerrordata``: only when storing a *reply* failed, the text of that error (the MT broker instead
  sends base64 of the subscriber's response body on every failure).
"""

from __future__ import annotations

from collections.abc import Mapping

from knlocal.eventing.message import AmqpMessage

__all__ = ["NO_RESPONSE", "error_extensions", "failed_copy"]

NO_RESPONSE = -1
_MAX_DATA_CHARS = 1024


def error_extensions(dest: str, status: int | None, data: str | None = None) -> dict[str, object]:
    extensions: dict[str, object] = {
        "knativeerrordest": dest,
        "knativeerrorcode": NO_RESPONSE if status is None else status,
    }
    if data is not None:
        extensions["knativeerrordata"] = data[:_MAX_DATA_CHARS]
    return extensions


def failed_copy(
    headers: Mapping[str, object] | None,
    body: bytes,
    content_type: str | None,
    message_id: str | None,
    extensions: Mapping[str, object],
) -> AmqpMessage:
    """The message to publish to the DLX: the original headers and body, plus ``extensions``."""
    return AmqpMessage(
        headers={**(headers or {}), **extensions},
        body=body,
        content_type=content_type,
        message_id=message_id,
    )
