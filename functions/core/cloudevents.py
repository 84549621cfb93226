"""CloudEvents over HTTP: parse binary, structured and batch mode; build binary-mode events and replies.

Wraps the sdk-python 1.x line that functions-framework pins. Mode detection follows the HTTP binding:
``application/cloudevents-batch`` → batch, ``application/cloudevents`` → structured, else binary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_dict

from functions.core.errors import BadRequest, UnsupportedMediaType

__all__ = ["CloudEvent", "build", "extension", "parse_request", "to_binary_http"]

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
_ATTR_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_REQUIRED = ("id", "source", "specversion", "type")
# Extensions that travel from the gateway to the last store.
CORRELATION = "correlationid"


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _decode_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from exc


def _from_mapping(raw: Any, where: str) -> CloudEvent:
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: a structured CloudEvent must be a JSON object")
    missing = [name for name in _REQUIRED if not isinstance(raw.get(name), str) or not raw.get(name)]
    if missing:
        raise BadRequest(f"{where}: missing required CloudEvent attribute(s) {', '.join(missing)}")
    if raw["specversion"] != "1.0":
        raise BadRequest(f"{where}: specversion {raw['specversion']!r} is not supported (use 1.0)")
    for name in raw:
        if name not in ("data", "data_base64") and not _ATTR_NAME.match(name):
            raise BadRequest(f"{where}: attribute name {name!r} must be 1-20 characters of a-z and 0-9")
    try:
        return from_dict(raw)
    except Exception as exc:  # the SDK raises several unrelated types for a bad event
        raise BadRequest(f"{where}: invalid CloudEvent: {exc}") from exc


def _from_binary(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    attributes: dict[str, Any] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower.startswith("ce-"):
            name = lower[3:]
            if not _ATTR_NAME.match(name):
                raise BadRequest(f"header {key}: attribute name must be 1-20 characters of a-z and 0-9")
            attributes[name] = unquote(value.strip('"'))
    if "specversion" not in attributes:
        raise UnsupportedMediaType(
            f"content type {_media_type(headers) or '(none)'} without ce-* headers is not a CloudEvent; "
            f"send binary mode (ce-specversion, ce-type, ce-source, ce-id headers), {STRUCTURED} or {BATCH}"
        )
    media = _media_type(headers)
    if media:
        attributes["datacontenttype"] = headers.get("content-type", media)
    data: Any = None
    if body:
        data = (
            _decode_json(body, "the event data")
            if media in ("", "application/json") or media.endswith("+json")
            else body
        )
    return _from_mapping({**attributes, "data": data}, "binary CloudEvent")


def parse_request(headers: Mapping[str, str], body: bytes) -> list[CloudEvent]:
    """Every CloudEvent in a request, in order. Raises BadRequest or UnsupportedMediaType."""
    media = _media_type(headers)
    if media.startswith("application/cloudevents-batch"):
        raw = _decode_json(body, "the batch")
        if not isinstance(raw, list):
            raise BadRequest("a CloudEvents batch must be a JSON array")
        return [_from_mapping(item, f"batch[{i}]") for i, item in enumerate(raw)]
    if media.startswith("application/cloudevents"):
        return [_from_mapping(_decode_json(body, "the structured CloudEvent"), "structured CloudEvent")]
    return [_from_binary(headers, body)]


def build(
    event_type: str,
    source: str,
    data: Any,
    *,
    event_id: str | None = None,
    dataschema: str | None = None,
    extensions: Mapping[str, str] | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    attributes: dict[str, Any] = {
        "type": event_type,
        "source": source,
        "datacontenttype": "application/json",
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }
    if event_id:
        attributes["id"] = event_id
    if dataschema:
        attributes["dataschema"] = dataschema
    for name, value in (extensions or {}).items():
        if value is not None:
            attributes[name] = value
    return CloudEvent(attributes, data)


def to_binary_http(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body of ``event`` in binary mode, as a reply or a POST to K_SINK."""
    headers, body = to_binary(event)
    return {k: str(v) for k, v in headers.items()}, body if isinstance(body, bytes) else str(body).encode()


def extension(event: CloudEvent, name: str) -> str | None:
    value = event.get_attributes().get(name)
    return None if value is None else str(value)
