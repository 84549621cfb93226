"""CORS for the read model: an allowlist of origins from settings. Pure.

Patterns are exact origins, ``scheme://host:*`` (any port), ``null`` (pages opened from file://, such
as the launcher page) or ``*``. An allowed origin is echoed back (never ``*`` with credentials); a
refused one gets no Access-Control-Allow-Origin header, so the browser blocks the response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, X-Correlation-Id, Last-Event-ID"
EXPOSE_HEADERS = "Retry-After, X-Correlation-Id"
MAX_AGE_S = "600"


def _pattern(origin: str) -> re.Pattern[str]:
    if origin == "*":
        return re.compile(r"^.*$")
    escaped = re.escape(origin)
    if origin.endswith(":*"):
        escaped = escaped[: -len(re.escape(":*"))] + r"(?::\d{1,5})?"
    return re.compile(f"^{escaped}$", re.IGNORECASE)


class CorsPolicy:
    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = tuple(origins)
        self._patterns = [_pattern(o) for o in self.origins]

    def allows(self, origin: str | None) -> bool:
        if origin is None:
            return False
        return any(p.match(origin) for p in self._patterns)

    def headers(self, origin: str | None) -> dict[str, str]:
        """Headers for an actual (non-preflight) response."""
        if not self.allows(origin):
            return {"Vary": "Origin"} if origin is not None else {}
        assert origin is not None
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSE_HEADERS,
                "Vary": "Origin"}  # fmt: skip

    def preflight(self, origin: str | None) -> dict[str, str]:
        if not self.allows(origin):
            return {"Vary": "Origin"}
        return {**self.headers(origin), "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Max-Age": MAX_AGE_S}  # fmt: skip
