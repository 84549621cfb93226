"""A sliding maximum over time for ``scale-down-delay`` (Knative's ``max.TimeWindow``).

Values are recorded into buckets of ``granularity_s`` (the 2 s decider tick); ``current`` is the largest
value recorded in the last ceil(duration/granularity) buckets, counted back from the newest record.
Kept as an ascending-minima deque of (bucket, value), so each record is amortised O(1). Immutable:
``record`` returns a new window, so it can live inside the decider's frozen state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MaxWindow"]


@dataclass(frozen=True)
class MaxWindow:
    duration_s: float
    granularity_s: float = 2.0
    entries: tuple[tuple[int, int], ...] = ()  # (bucket, value), values strictly decreasing

    @property
    def size(self) -> int:
        return max(1, math.ceil(self.duration_s / self.granularity_s))

    def record(self, now: float, value: int) -> MaxWindow:
        b = math.floor(now / self.granularity_s)
        kept = [(i, v) for i, v in self.entries if i > b - self.size]
        while kept and kept[-1][1] <= value:
            kept.pop()  # a newer, larger value makes older, smaller ones irrelevant
        kept.append((b, value))
        return MaxWindow(self.duration_s, self.granularity_s, tuple(kept))

    def current(self) -> int:
        return self.entries[0][1] if self.entries else 0
