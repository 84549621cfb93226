"""RFC 3339 timestamps, the one way every function writes and reads them."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """UTC with millisecond precision and a ``Z``: fixed width, so the strings also sort in time order."""
    if moment.tzinfo is None:  # BSON datetimes come back naive unless the client is tz-aware
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(raw: object) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string (or a datetime); None when absent or unreadable.
    A value without an offset is taken as UTC."""
    if isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, str) and raw.strip():
        try:
            parsed = datetime.fromisoformat(raw.strip().upper().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
