"""Pure statistics for the benchmarks: percentiles, summaries, ratios, verdicts, scaling lags, RSS parsing.

Nothing here does I/O or reads a clock; every function takes plain numbers so it is tested with vectors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ScaleLag",
    "Verdict",
    "completed_within",
    "percentile",
    "rate",
    "ratio",
    "rss_kib",
    "scale_lags",
    "summarize",
    "verdict",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between closest ranks (NumPy's default); None if empty."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside 0..1")
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(latencies_s: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean and p50/p95/p99/max in milliseconds, rounded to 0.01 ms."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 2)

    mean = sum(latencies_s) / len(latencies_s) if latencies_s else None
    return {
        "n": len(latencies_s),
        "mean_ms": ms(mean),
        "p50_ms": ms(percentile(latencies_s, 0.50)),
        "p95_ms": ms(percentile(latencies_s, 0.95)),
        "p99_ms": ms(percentile(latencies_s, 0.99)),
        "max_ms": ms(max(latencies_s) if latencies_s else None),
    }


def rate(count: int, seconds: float) -> float | None:
    """Events per second, None when nothing was timed."""
    return None if seconds <= 0 else round(count / seconds, 1)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs rounded to 0.01, None when either side is missing or the baseline is zero."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs, 2)


def completed_within(finished_at: Iterable[float], start: float, end: float) -> int:
    """How many completions fall in the half-open window [start, end)."""
    return sum(1 for t in finished_at if start <= t < end)


@dataclass(frozen=True)
class Verdict:
    name: str
    value: float | None
    target: str
    met: bool | None  # None: not measured

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "target": self.target, "met": self.met}


def verdict(
    name: str, value: float | None, *, at_least: float | None = None, at_most: float | None = None
) -> Verdict:
    """Compare one figure with its target bound (exactly one of ``at_least`` / ``at_most``)."""
    if (at_least is None) == (at_most is None):
        raise ValueError("give exactly one of at_least and at_most")
    target = f">= {at_least:g}" if at_least is not None else f"<= {at_most:g}"
    if value is None:
        return Verdict(name, None, target, None)
    met = value >= at_least if at_least is not None else value <= at_most  # type: ignore[operator]
    return Verdict(name, value, target, met)


@dataclass(frozen=True)
class ScaleLag:
    """One step up in desired instances and how long until that many were ready."""

    desired: int
    decided_at_s: float
    ready_at_s: float | None  # None: never within the samples

    @property
    def lag_s(self) -> float | None:
        return None if self.ready_at_s is None else round(self.ready_at_s - self.decided_at_s, 3)


def scale_lags(samples: Sequence[tuple[float, int, int]]) -> list[ScaleLag]:
    """From (time, desired, ready) samples in time order: each new high of desired and when ready reached it.

    Only increases count (a scale-up the user waits for); the first sample sets the starting level.
    """
    lags: list[ScaleLag] = []
    if not samples:
        return lags
    high = samples[0][1]
    for i, (t, desired, _ready) in enumerate(samples):
        if desired <= high:
            continue
        high = desired
        reached = next((t2 for t2, _d, r in samples[i:] if r >= desired), None)
        lags.append(ScaleLag(desired, t, reached))
    return lags


def rss_kib(status_text: str) -> int | None:
    """VmRSS in KiB from the text of /proc/<pid>/status; None when absent (a zombie or kernel thread)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
    return None
