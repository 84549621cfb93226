"""CloudEvent conversions of the broker: HTTP (binary/structured) -> event -> AMQP -> event -> binary HTTP."""

from __future__ import annotations

import base64
import json

import pytest

from knlocal.eventing.deadletters import error_extensions, failed_copy
from knlocal.eventing.message import (
    Event,
    InvalidEvent,
    from_amqp,
    from_http,
    looks_like_event,
    to_amqp,
    to_binary_http,
)

BINARY = {
    "ce-specversion": "1.0",
    "ce-id": "e-1",
    "ce-source": "/observatory/gateway",
    "ce-type": "dev.observatory.job.submitted",
    "Content-Type": "application/json",
    "ce-jobid": "j-1",
    "X-Other": "ignored",
}

# (name, headers, body, expected attributes, expected data)
PARSE_VECTORS = [
    (
        "binary",
        BINARY,
        b'{"a":1}',
        {
            "specversion": "1.0",
            "id": "e-1",
            "source": "/observatory/gateway",
            "type": "dev.observatory.job.submitted",
            "datacontenttype": "application/json",
            "jobid": "j-1",
        },
        b'{"a":1}',
    ),
    (
        "binary header names in any case, percent-decoded values",
        {"CE-SpecVersion": "1.0", "Ce-Id": "1", "ce-source": "/s", "ce-type": "t", "ce-subject": "caf%C3%A9"},
        b"",
        {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "subject": "café"},
        b"",
    ),
    (
        "a lone percent sign is kept",
        {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-note": "100%"},
        b"",
        {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "note": "100%"},
        b"",
    ),
    (
        "structured with JSON data and typed extensions",
        {"content-type": "application/cloudevents+json; charset=utf-8"},
        json.dumps(
            {
                "specversion": "1.0",
                "id": "2",
                "source": "/s",
                "type": "t",
                "n": 5,
                "ok": True,
                "data": {"k": [1]},
            }
        ).encode(),
        {
            "specversion": "1.0",
            "id": "2",
            "source": "/s",
            "type": "t",
            "n": 5,
            "ok": True,
            "datacontenttype": "application/json",
        },
        b'{"k":[1]}',
    ),
    (
        "structured with text data",
        {"content-type": "application/cloudevents+json"},
        json.dumps(
            {
                "specversion": "1.0",
                "id": "3",
                "source": "/s",
                "type": "t",
                "datacontenttype": "text/plain",
                "data": "hi",
            }
        ).encode(),
        {"specversion": "1.0", "id": "3", "source": "/s", "type": "t", "datacontenttype": "text/plain"},
        b"hi",
    ),
    (
        "structured with data_base64",
        {"content-type": "application/cloudevents+json"},
        json.dumps(
            {
                "specversion": "1.0",
                "id": "4",
                "source": "/s",
                "type": "t",
                "data_base64": base64.b64encode(b"\x00\x01").decode(),
            }
        ).encode(),
        {"specversion": "1.0", "id": "4", "source": "/s", "type": "t"},
        b"\x00\x01",
    ),
]


@pytest.mark.parametrize(
    ("name", "headers", "body", "attributes", "data"), PARSE_VECTORS, ids=[v[0] for v in PARSE_VECTORS]
)
def test_from_http(
    name: str, headers: dict[str, str], body: bytes, attributes: dict[str, object], data: bytes
) -> None:
    event = from_http(headers, body)
    assert dict(event.attributes) == attributes
    assert event.data == data


INVALID_VECTORS = [
    ("missing id", {k: v for k, v in BINARY.items() if k != "ce-id"}, b"", "'id'"),
    ("empty type", {**BINARY, "ce-type": ""}, b"", "'type'"),
    ("specversion 0.3", {**BINARY, "ce-specversion": "0.3"}, b"", "specversion"),
    ("bad time", {**BINARY, "ce-time": "yesterday"}, b"", "RFC 3339"),
    ("bad name", {**BINARY, "ce-job_id": "x"}, b"", "[a-z0-9]+"),
    ("not binary", {"content-type": "application/json"}, b"{}", "'id'"),
    ("structured not JSON", {"content-type": "application/cloudevents+json"}, b"{", "not JSON"),
    ("structured array", {"content-type": "application/cloudevents+json"}, b"[]", "not a JSON object"),
    (
        "structured object extension",
        {"content-type": "application/cloudevents+json"},
        b'{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":{"a":1}}',
        "dict",
    ),
    ("batch", {"content-type": "application/cloudevents-batch+json"}, b"[]", "batch"),
    ("bad percent-encoding", {**BINARY, "ce-subject": "%FF"}, b"", "percent-encoded"),
]


@pytest.mark.parametrize(
    ("name", "headers", "body", "reason"), INVALID_VECTORS, ids=[v[0] for v in INVALID_VECTORS]
)
def test_invalid_events_say_why(name: str, headers: dict[str, str], body: bytes, reason: str) -> None:
    with pytest.raises(
        InvalidEvent, match=reason.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")
    ):
        from_http(headers, body)


def test_valid_time_passes() -> None:
    assert (
        from_http({**BINARY, "ce-time": "2024-05-01T10:00:00.123Z"}, b"").attributes["time"]
        == "2024-05-01T10:00:00.123Z"
    )


def test_to_amqp_is_the_rabbitmq_broker_message() -> None:
    message = to_amqp(from_http(BINARY, b'{"a":1}'))
    assert message.headers == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/observatory/gateway",
        "type": "dev.observatory.job.submitted",
        "content-type": "application/json",
        "jobid": "j-1",
    }
    assert (message.content_type, message.message_id, message.delivery_mode) == ("application/json", "e-1", 2)
    assert message.body == b'{"a":1}'


AMQP_VECTORS = [
    (
        "unprefixed, as the broker ingress writes",
        {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"},
        None,
    ),
    (
        "ce- prefixed bytes values, as the CloudEvents AMQP binding writes",
        {"ce-specversion": b"1.0", "ce-id": b"1", "ce-source": b"/s", "ce-type": b"t"},
        None,
    ),
    (
        "RabbitMQ's own headers are skipped",
        {
            "specversion": "1.0",
            "id": "1",
            "source": "/s",
            "type": "t",
            "x-delivery-count": 2,
            "x-death": [{}],
        },
        None,
    ),
]


@pytest.mark.parametrize(("name", "headers", "content_type"), AMQP_VECTORS, ids=[v[0] for v in AMQP_VECTORS])
def test_from_amqp(name: str, headers: dict[str, object], content_type: str | None) -> None:
    event = from_amqp(headers, b"x", content_type)
    assert dict(event.attributes) == {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}


def test_from_amqp_takes_the_content_type_property_when_there_is_no_header() -> None:
    event = from_amqp({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}, b"", "text/plain")
    assert event.attributes["datacontenttype"] == "text/plain"


def test_round_trip_http_amqp_http_keeps_the_event() -> None:
    original = from_http({**BINARY, "ce-subject": "café latte"}, b'{"a":1}')
    message = to_amqp(original)
    back = from_amqp(message.headers, message.body, message.content_type)
    assert back == original
    headers, body = to_binary_http(back)
    assert headers["content-type"] == "application/json"
    assert headers["ce-subject"] == "caf%C3%A9 latte"  # non-ASCII percent-encoded, the space kept
    assert headers["ce-jobid"] == "j-1"
    assert body == b'{"a":1}'
    assert from_http(headers, body) == original


def test_binary_http_writes_integers_and_booleans_as_text() -> None:
    event = Event(
        {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "knativeerrorcode": -1, "ok": True}
    )
    headers, _ = to_binary_http(event)
    assert (headers["ce-knativeerrorcode"], headers["ce-ok"]) == ("-1", "true")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ce-specversion": "1.0"}, True),
        ({"CE-SPECVERSION": "1.0"}, True),
        ({"content-type": "application/cloudevents+json"}, True),
        ({"content-type": "text/plain"}, False),
        ({}, False),
    ],
)
def test_looks_like_event(headers: dict[str, str], expected: bool) -> None:
    assert looks_like_event(headers) is expected


@pytest.mark.parametrize(
    ("status", "data", "expected"),
    [
        (500, None, {"knativeerrordest": "http://s/", "knativeerrorcode": 500}),
        (None, None, {"knativeerrordest": "http://s/", "knativeerrorcode": -1}),
        (
            503,
            "x" * 2000,
            {"knativeerrordest": "http://s/", "knativeerrorcode": 503, "knativeerrordata": "x" * 1024},
        ),
    ],
)
def test_error_extensions(status: int | None, data: str | None, expected: dict[str, object]) -> None:
    assert error_extensions("http://s/", status, data) == expected


def test_failed_copy_keeps_the_original_and_adds_extensions() -> None:
    copy = failed_copy({"id": "1", "type": "t"}, b"body", "application/json", "1", {"knativeerrorcode": 500})
    assert copy.headers == {"id": "1", "type": "t", "knativeerrorcode": 500}
    assert (copy.body, copy.content_type, copy.message_id, copy.delivery_mode) == (
        b"body",
        "application/json",
        "1",
        2,
    )
