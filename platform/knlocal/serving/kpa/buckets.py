"""Per-second metric buckets averaged over a window (Knative's ``TimedFloat64Buckets``), time passed in.

Semantics of the linear ``window_average`` (the default ``metric-aggregation-algorithm``):

* values recorded in the same bucket (``granularity``, 1 s) add up; the ring holds ceil(window/granularity);
* at start-up the average covers only the buckets since the first write (a partial window), so the very
  first sample counts fully instead of being divided by 60;
* gaps between writes count as zeros; buckets older than the window drop out;
* if nothing was written for a whole window, the next write starts over (first write reset);
* once the last write is older than the window, the average is 0 and ``is_empty`` is true;
* results are truncated (floored) to 6 decimals, as Knative does, so 1/3 reads 0.333333.

Times are float seconds on any clock, as long as it is the same clock for every call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["MetricWindows", "TimedBuckets", "WeightedBuckets"]

_PRECISION = 10**6
# Weighted-exponential constants (Knative): the weights must sum to at least this over the window,
# and the smoothing coefficient never drops below the minimum.
_WEIGHT_PRECISION = 0.9999
_MIN_EXPONENT = 0.2


def _floor6(value: float) -> float:
    return math.floor(value * _PRECISION) / _PRECISION


class TimedBuckets:
    """A ring of per-bucket sums with a linear window average."""

    def __init__(self, window_s: float, granularity_s: float = 1.0) -> None:
        if window_s <= 0 or granularity_s <= 0:
            raise ValueError("window and granularity must be positive")
        self.window_s = window_s
        self.granularity_s = granularity_s
        self.buckets = [0.0] * math.ceil(window_s / granularity_s)
        self.first_write: int | None = None  # bucket numbers: floor(time / granularity)
        self.last_write: int | None = None
        self.window_total = 0.0

    def _bucket(self, now: float) -> int:
        return math.floor(now / self.granularity_s)

    def _span_s(self, later: int, earlier: int) -> float:
        return (later - earlier) * self.granularity_s

    def record(self, now: float, value: float) -> None:
        b = self._bucket(now)
        size = len(self.buckets)
        if self.last_write != b:
            if self.last_write is not None and self._span_s(self.last_write, b) >= self.window_s:
                return  # older than a window behind the newest write: ignored
            if self.first_write is None or self.first_write > b:
                self.first_write = b
            if self.last_write is None or b > self.last_write:
                if self.last_write is None or self._span_s(b, self.last_write) >= self.window_s:
                    # Nothing written for a whole window: start over from this bucket.
                    self.first_write = b
                    self.buckets = [0.0] * size
                    self.window_total = 0.0
                else:
                    # Zero every bucket skipped since the last write (and reuse of the ring slot).
                    for i in range(self.last_write + 1, b + 1):
                        self.window_total -= self.buckets[i % size]
                        self.buckets[i % size] = 0.0
                self.last_write = b
        self.buckets[b % size] += value
        self.window_total += value

    def is_empty(self, now: float) -> bool:
        """True when nothing was recorded within the last window (the collector's "no data")."""
        return self.last_write is None or self._span_s(self._bucket(now), self.last_write) > self.window_s

    def window_average(self, now: float) -> float:
        if self.last_write is None or self.first_write is None:
            return 0.0
        b = self._bucket(now)
        size = len(self.buckets)
        written = self.last_write - self.first_write + 1  # inclusive
        elapsed = self._span_s(b, self.last_write)
        if elapsed <= 0:
            return _floor6(self.window_total / min(written, size))
        if elapsed < self.window_s:
            # Drop the buckets that have slid out of the window since the last write.
            total = self.window_total
            for i in range(self.last_write + 1, b + 1):
                total -= self.buckets[i % size]
            return _floor6(total / min(written, size - (b - self.last_write)))
        return 0.0


class WeightedBuckets(TimedBuckets):
    """``weighted-exponential`` aggregation: newest bucket weight m, the one before m(1-m), and so on."""

    def __init__(self, window_s: float, granularity_s: float = 1.0) -> None:
        super().__init__(window_s, granularity_s)
        n = len(self.buckets)
        self.smoothing = max(1 - (1 - _WEIGHT_PRECISION) ** (1 / n), _MIN_EXPONENT)

    def window_average(self, now: float) -> float:
        if self.is_empty(now) or self.last_write is None:
            return 0.0
        b = self._bucket(now)
        size = len(self.buckets)
        count = size
        multiplier = self.smoothing
        if b > self.last_write:
            # Empty trailing buckets: skip straight to their combined weight.
            zeros = b - self.last_write
            multiplier *= (1 - self.smoothing) ** zeros
            count -= zeros
        total = 0.0
        for i in range(max(count, 0)):
            total += self.buckets[(self.last_write - i) % size] * multiplier
            multiplier *= 1 - self.smoothing
        return total


@dataclass
class MetricWindows:
    """The stable and panic windows of one metric for one Service, fed together as Knative's collector does."""

    stable_window_s: float
    panic_window_s: float
    weighted: bool = False
    stable: TimedBuckets = field(init=False)
    panic: TimedBuckets = field(init=False)

    def __post_init__(self) -> None:
        kind = WeightedBuckets if self.weighted else TimedBuckets
        self.stable = kind(self.stable_window_s)
        self.panic = kind(self.panic_window_s)

    def record(self, now: float, value: float) -> None:
        self.stable.record(now, value)
        self.panic.record(now, value)

    def averages(self, now: float) -> tuple[float, float] | None:
        """(stable, panic) averages, or None when the stable window holds no data (Knative's ErrNoData)."""
        if self.stable.is_empty(now):
            return None
        return self.stable.window_average(now), self.panic.window_average(now)
