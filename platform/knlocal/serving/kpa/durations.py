"""Go ``time.ParseDuration`` syntax ("6s", "1m30s", "300ms", "1.5h"), as Knative's autoscaling settings use."""

from __future__ import annotations

import re

__all__ = ["parse_go_duration"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string; ``"0"`` alone needs no unit. Raises ``ValueError``."""
    raw = text.strip()
    body = raw[1:] if raw[:1] in "+-" else raw
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f"{text!r} is not a duration (e.g. 6s, 1m30s, 300ms)")
    return -total if raw.startswith("-") else total
