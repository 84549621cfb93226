"""GET /stream: Server-Sent Events of the live stats and of job changes.

Every tick sends ``event: stats`` (the /stats body) and one ``event: job`` per job row updated since
the previous tick, found through the updated_at index (migration 0003). ``updated_at`` is the start
time of the writing transaction, so a row can commit slightly after a later tick looked; the query
therefore looks back ``OVERLAP`` and drops rows already sent. Comment lines keep idle proxies from
closing the stream. The stream ends when the client goes away (Starlette cancels the generator).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.core.errors import ProblemError, StoreError
from functions.readmodel import reads, sse
from functions.readmodel.resources import ReadModelResources
from functions.readmodel.views import job_summary

OVERLAP = timedelta(seconds=2)
RECONNECT_MS = 2000


@dataclass(frozen=True)
class StreamOptions:
    interval_s: float = 1.0
    heartbeat_s: float = 15.0


class ChangeTracker:
    """Which (job, updated_at) pairs were already sent, for the look-back window only."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self._sent: dict[tuple[str, datetime], None] = {}

    def fresh(self, rows: list[dict[str, object]]) -> list[dict[str, object]]:
        out = []
        for row in rows:
            updated = row["updated_at"]
            assert isinstance(updated, datetime)
            key = (str(row["id"]), updated)
            if key in self._sent:
                continue
            self._sent[key] = None
            out.append(row)
            self.since = max(self.since, updated)
        horizon = self.since - OVERLAP
        self._sent = {k: None for k in self._sent if k[1] >= horizon}
        return out


async def events(
    resources: ReadModelResources, probe: reads.RuntimeProbe, options: StreamOptions
) -> AsyncIterator[bytes]:
    yield sse.retry(RECONNECT_MS)
    tracker = ChangeTracker(datetime.now(UTC))
    last_beat = time.monotonic()
    tick = 0
    while True:
        tick += 1
        try:
            yield sse.event("stats", await reads.stats(resources, await probe.get()), str(tick))
            rows = await reads.changed_jobs(resources, tracker.since - OVERLAP)
            for row in tracker.fresh(rows):
                yield sse.event("job", job_summary(row))
        except (StoreError, ProblemError) as exc:
            # A store outage is news for the client, not the end of the stream.
            yield sse.event("error", {"detail": str(exc)})
        if time.monotonic() - last_beat >= options.heartbeat_s:
            last_beat = time.monotonic()
            yield sse.comment(f"heartbeat {datetime.now(UTC).isoformat()}")
        await asyncio.sleep(options.interval_s)
