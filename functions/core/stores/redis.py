"""Redis: live aggregates kept exactly once per event (atomic Lua script with a dedupe marker).

Keys (all under the settings' prefix): ``seen:<source>|<id>`` dedupe markers, ``job:<id>`` per-job
markers (status, rank, ``<phase>_at``), ``totals`` (by status, plus TOTAL), ``types`` (by job type),
``tput:<epoch second>`` completions per second, ``latency`` (histogram, ms upper bound → count),
``meta`` (last event time, latency sum and count), ``deadletters`` (count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from functions.core.errors import StoreError
from functions.core.jobs import STATUS_OF_EVENT, EventType

LATENCY_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000)
DEDUPE_TTL_S = 7 * 24 * 3600
JOB_TTL_S = 7 * 24 * 3600
THROUGHPUT_WINDOW_S = 300
_SCRIPT = (Path(__file__).with_name("apply_event.lua")).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Stats:
    by_status: dict[str, int]
    total: int
    by_type: dict[str, int]
    throughput: list[tuple[int, int]]  # (epoch second, completions), oldest first
    latency_ms: dict[str, float | None]  # p50, p95, p99, mean
    last_event_ms: int | None
    dead_letters: int


def percentile_from_histogram(counts: dict[float, int], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` (as Prometheus' histogram_quantile, no interpolation)."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = q * total
    running = 0
    for bound in sorted(counts):
        running += counts[bound]
        if running >= rank:
            return bound
    return max(counts)


class Aggregates:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._apply = client.register_script(_SCRIPT)

    @classmethod
    def connect(cls, url: str, prefix: str) -> Aggregates:
        # One pooled client per process; connections are made lazily and kept alive.
        return cls(aioredis.from_url(url, decode_responses=True, max_connections=32), prefix)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def close(self) -> None:
        await self.client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except RedisError:
            return False

    async def apply(
        self, *, source: str, event_id: str, event_type: EventType, job_id: str, job_type: str, time_ms: int
    ) -> bool:
        """Count the event once. False when this source+id was already counted."""
        status = STATUS_OF_EVENT[event_type]
        second = time_ms // 1000
        keys = [
            self.key("seen", f"{source}|{event_id}"), self.key("job", job_id), self.key("totals"),
            self.key("types"), self.key("tput", str(second)), self.key("latency"), self.key("meta"),
        ]  # fmt: skip
        args: list[Any] = [status.value, int(status.rank), job_type, event_type.phase, time_ms,
                           DEDUPE_TTL_S, JOB_TTL_S, THROUGHPUT_WINDOW_S * 2, *LATENCY_BOUNDS_MS]  # fmt: skip
        try:
            counted = await self._apply(keys=keys, args=args)
            if counted and event_type is EventType.DEADLETTERED:
                await self.client.incr(self.key("deadletters"))
        except RedisError as exc:
            raise StoreError("redis", str(exc)) from exc
        return bool(counted)

    async def job_markers(self, job_id: str) -> dict[str, str]:
        try:
            markers: dict[str, str] = await self.client.hgetall(self.key("job", job_id))  # type: ignore[assignment]
            return dict(markers)
        except RedisError as exc:
            raise StoreError("redis", str(exc)) from exc

    async def stats(self, now_s: int, window_s: int = 60) -> Stats:
        """Everything /stats needs in one round trip: O(1) in the number of jobs."""
        seconds = list(range(now_s - window_s + 1, now_s + 1))
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.key("totals"))
                pipe.hgetall(self.key("types"))
                pipe.hgetall(self.key("latency"))
                pipe.hgetall(self.key("meta"))
                pipe.get(self.key("deadletters"))
                pipe.mget([self.key("tput", str(s)) for s in seconds])
                totals, types, latency, meta, dead, tput = await pipe.execute()
        except RedisError as exc:
            raise StoreError("redis", str(exc)) from exc
        by_status = {k: int(v) for k, v in totals.items() if k != "TOTAL"}
        histogram = {(math.inf if k == "+Inf" else float(k)): int(v) for k, v in latency.items()}
        count = int(meta.get("latency_count", 0))
        return Stats(
            by_status=by_status,
            total=int(totals.get("TOTAL", 0)),
            by_type={k: int(v) for k, v in types.items()},
            throughput=[(s, int(v or 0)) for s, v in zip(seconds, tput, strict=True)],
            latency_ms={
                "p50": percentile_from_histogram(histogram, 0.50),
                "p95": percentile_from_histogram(histogram, 0.95),
                "p99": percentile_from_histogram(histogram, 0.99),
                "mean": (float(meta.get("latency_sum_ms", 0)) / count) if count else None,
            },
            last_event_ms=int(meta["last_event_ms"]) if "last_event_ms" in meta else None,
            dead_letters=int(dead or 0),
        )
