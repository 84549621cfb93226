"""Server-Sent Events framing (text/event-stream). Pure."""

from __future__ import annotations

import json
from typing import Any


def event(name: str, data: Any, event_id: str | None = None) -> bytes:
    """One event; the JSON is compact, so it never contains a newline that would split the data field."""
    lines = [f"event: {name}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


def comment(text: str) -> bytes:
    """A comment line: ignored by EventSource, keeps proxies from closing an idle stream."""
    return f": {text}\n\n".encode()


def retry(milliseconds: int) -> bytes:
    return f"retry: {milliseconds}\n\n".encode()
