"""Pure parsers for the two duration syntaxes Knative admission checks.

Annotations such as `autoscaling.knative.dev/window` take Go durations (`60s`, `1m30s`); DeliverySpec
`backoffDelay` and `timeout` take ISO-8601 durations (`PT0.2S`). Each parser returns seconds, or
raises DurationError with the reason.
"""

from __future__ import annotations

import re


class DurationError(ValueError):
    """The text is not a duration in the expected syntax."""


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go `time.ParseDuration` string; a unit is required except for a bare "0"."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise DurationError(f"{text!r} is not a Go duration (e.g. 30s, 1m30s)")
    pos, total = 0, 0.0
    while pos < len(body):
        match = _GO_PART.match(body, pos)
        if match is None:
            raise DurationError(f"{text!r} is not a Go duration (e.g. 30s, 1m30s)")
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return -total if text.startswith("-") else total


_NUM = r"(\d+(?:[.,]\d+)?)"
_ISO = re.compile(
    rf"^(?P<sign>-)?P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?$"
)
# Calendar units are approximated the way the period library normalises them; only seconds matter here.
_ISO_SECONDS = (365 * 86400.0, 30 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0)


def parse_iso8601_duration(text: str) -> float:
    """Seconds in an ISO-8601 duration such as `PT0.2S`, `PT1M`, `P1D`."""
    match = _ISO.match(text)
    if match is None or text.rstrip("-").endswith(("P", "T")) or text in ("P", "-P"):
        raise DurationError(f"{text!r} is not an ISO-8601 duration (e.g. PT0.2S, PT1M)")
    groups = match.groups()[1:]
    if all(g is None for g in groups):
        raise DurationError(f"{text!r} is not an ISO-8601 duration (e.g. PT0.2S, PT1M)")
    total = sum(float(g.replace(",", ".")) * unit for g, unit in zip(groups, _ISO_SECONDS, strict=True) if g)
    return -total if match.group("sign") else total
