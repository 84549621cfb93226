"""knlocal.serving.kpa.buckets and window: Knative's window averaging and the scale-down-delay max."""

from __future__ import annotations

import pytest

from knlocal.serving.kpa.buckets import MetricWindows, TimedBuckets, WeightedBuckets
from knlocal.serving.kpa.window import MaxWindow

T0 = 1_000_000.0

# (records as (offset, value), query offset, expected average) for a 5 s window of 1 s buckets
VECTORS = [
    ("first sample counts fully (partial window)", [(0, 10)], 0, 10.0),
    ("two buckets", [(0, 10), (1, 20)], 1, 15.0),
    ("full window", [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)], 4, 1.0),
    ("oldest bucket slides out", [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 6)], 5, 2.0),
    ("gaps count as zero, floored to 6 decimals", [(0, 10), (2, 10)], 2, 6.666666),
    ("same bucket adds up", [(0.2, 1), (0.7, 2)], 0.9, 3.0),
    ("1/3 floors", [(0, 1), (1, 0), (2, 0)], 2, 0.333333),
    ("no recent data: average over what is left", [(0, 10), (1, 10)], 3, 10.0),
    ("the window edge drops the oldest", [(0, 10), (1, 10)], 5, 10.0),
    ("a whole window after the last write: 0", [(0, 10), (1, 10)], 6, 0.0),
    ("idle for a window resets the start", [(0, 10), (10, 4)], 10, 4.0),
    ("older than a window behind: ignored", [(10, 1), (2, 100)], 10, 1.0),
    ("late write within the window moves the start back", [(3, 3), (1, 1)], 3, 1.333333),
    ("nothing recorded", [], 0, 0.0),
]


@pytest.mark.parametrize(("label", "records", "at", "expected"), VECTORS)
def test_linear_window_average(
    label: str, records: list[tuple[float, float]], at: float, expected: float
) -> None:
    buckets = TimedBuckets(window_s=5)
    for offset, value in records:
        buckets.record(T0 + offset, value)
    assert buckets.window_average(T0 + at) == expected, label


def test_is_empty() -> None:
    buckets = TimedBuckets(window_s=5)
    assert buckets.is_empty(T0)
    buckets.record(T0 + 1, 0.0)  # a zero is still data
    assert not buckets.is_empty(T0 + 1)
    assert not buckets.is_empty(T0 + 6)  # exactly a window: Knative still says "not empty" ...
    assert buckets.window_average(T0 + 6) == 0.0  # ... while the average is already 0
    assert buckets.is_empty(T0 + 7)


def test_long_run_is_a_plain_average() -> None:
    buckets = TimedBuckets(window_s=60)
    for s in range(200):
        buckets.record(T0 + s, float(s % 4))  # 0,1,2,3 repeating: mean 1.5
    assert buckets.window_average(T0 + 199) == 1.5


def test_weighted_exponential() -> None:
    buckets = WeightedBuckets(window_s=5)
    m = buckets.smoothing
    assert m == pytest.approx(1 - 1e-4 ** (1 / 5))
    buckets.record(T0, 10.0)
    assert buckets.window_average(T0) == pytest.approx(10 * m)
    buckets.record(T0 + 1, 20.0)
    assert buckets.window_average(T0 + 1) == pytest.approx(20 * m + 10 * m * (1 - m))
    # one empty trailing bucket shifts every weight by (1 - m)
    assert buckets.window_average(T0 + 2) == pytest.approx(20 * m * (1 - m) + 10 * m * (1 - m) ** 2)
    assert buckets.window_average(T0 + 20) == 0.0
    assert WeightedBuckets(window_s=60).smoothing == pytest.approx(0.2)  # the minimum for long windows


def test_metric_windows() -> None:
    windows = MetricWindows(stable_window_s=60, panic_window_s=6)
    assert windows.averages(T0) is None  # no data: the decider must not act
    for s in range(10):
        windows.record(T0 + s, 12.0 if s >= 8 else 0.0)
    # stable: 24 over 10 buckets; panic: 24 over its 6 buckets
    assert windows.averages(T0 + 9) == (2.4, 4.0)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([(0, 5)], 5),
        ([(0, 5), (2, 3)], 5),
        ([(0, 5), (2, 3), (10, 1)], 3),  # 5 aged out (window of 5 buckets of 2 s)
        ([(0, 5), (2, 3), (12, 1)], 1),
        ([(0, 1), (2, 7), (4, 2)], 7),
        ([(0, 4), (0.5, 2)], 4),  # same bucket keeps the larger
    ],
)
def test_max_window(records: list[tuple[float, int]], expected: int) -> None:
    window = MaxWindow(duration_s=10, granularity_s=2)
    for offset, value in records:
        window = window.record(T0 + offset, value)
    assert window.current() == expected


def test_max_window_empty() -> None:
    assert MaxWindow(10).current() == 0
