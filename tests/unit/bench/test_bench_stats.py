"""Vectors for the benchmark statistics (pure functions)."""

from __future__ import annotations

import pytest

from tui.bench.stats import (
    ScaleLag,
    completed_within,
    percentile,
    rate,
    ratio,
    rss_kib,
    scale_lags,
    summarize,
    verdict,
)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.99, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 1.0, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),  # order of the input does not matter
        ([float(i) for i in range(1, 101)], 0.99, 99.01),
        ([10.0, 20.0], 0.25, 12.5),
    ],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], q: float, expected: float | None
) -> None:
    got = percentile(values, q)
    assert got == pytest.approx(expected) if expected is not None else got is None


@pytest.mark.parametrize("q", [-0.1, 1.5])
def test_percentile_refuses_a_quantile_outside_0_1(q: float) -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        percentile([1.0], q)


def test_summarize_reports_milliseconds() -> None:
    got = summarize([0.001, 0.002, 0.003, 0.004, 0.100])
    assert got == {"n": 5, "mean_ms": 22.0, "p50_ms": 3.0, "p95_ms": 80.8, "p99_ms": 96.16, "max_ms": 100.0}


def test_summarize_of_nothing_is_all_none() -> None:
    assert summarize([]) == {
        "n": 0,
        "mean_ms": None,
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "max_ms": None,
    }


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        (60.0, 100.0, 0.6),
        (100.0, 3.0, 33.33),
        (None, 1.0, None),
        (1.0, None, None),
        (1.0, 0.0, None),
        (0.0, 5.0, 0.0),
    ],
)
def test_ratio(ours: float | None, theirs: float | None, expected: float | None) -> None:
    assert ratio(ours, theirs) == expected


@pytest.mark.parametrize(("count", "seconds", "expected"), [(100, 2.0, 50.0), (1, 3.0, 0.3), (5, 0.0, None)])
def test_rate(count: int, seconds: float, expected: float | None) -> None:
    assert rate(count, seconds) == expected


def test_completed_within_is_half_open() -> None:
    assert completed_within([0.9, 1.0, 1.5, 2.0, 2.1], 1.0, 2.0) == 2


@pytest.mark.parametrize(
    ("value", "bound", "expected_met", "expected_target"),
    [
        (0.6, {"at_least": 0.6}, True, ">= 0.6"),
        (0.59, {"at_least": 0.6}, False, ">= 0.6"),
        (1.5, {"at_most": 1.5}, True, "<= 1.5"),
        (1.51, {"at_most": 1.5}, False, "<= 1.5"),
        (None, {"at_most": 1.0}, None, "<= 1"),
    ],
)
def test_verdict(
    value: float | None, bound: dict[str, float], expected_met: bool | None, expected_target: str
) -> None:
    got = verdict("x", value, **bound)
    assert (got.met, got.target, got.value) == (expected_met, expected_target, value)


@pytest.mark.parametrize("bounds", [{}, {"at_least": 1.0, "at_most": 2.0}])
def test_verdict_needs_exactly_one_bound(bounds: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        verdict("x", 1.0, **bounds)


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([], []),
        ([(0.0, 1, 1), (1.0, 1, 1)], []),  # no increase
        ([(0.0, 1, 1), (2.0, 3, 1), (3.0, 3, 2), (4.5, 3, 3)], [ScaleLag(3, 2.0, 4.5)]),
        (  # two steps up; the second never becomes ready in the samples
            [(0.0, 0, 0), (1.0, 1, 0), (1.5, 1, 1), (2.0, 2, 1), (3.0, 2, 1)],
            [ScaleLag(1, 1.0, 1.5), ScaleLag(2, 2.0, None)],
        ),
        ([(0.0, 2, 2), (1.0, 1, 1), (2.0, 2, 2)], []),  # back to the starting level is not a new high
        ([(0.0, 1, 1), (1.0, 2, 2)], [ScaleLag(2, 1.0, 1.0)]),  # ready in the same sample
    ],
)
def test_scale_lags(samples: list[tuple[float, int, int]], expected: list[ScaleLag]) -> None:
    assert scale_lags(samples) == expected


def test_scale_lag_seconds() -> None:
    assert ScaleLag(2, 1.25, 3.5).lag_s == 2.25
    assert ScaleLag(2, 1.25, None).lag_s is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Name:\tpython\nVmPeak:\t  300 kB\nVmRSS:\t   61234 kB\nThreads: 3\n", 61234),
        ("Name:\tkworker\nState:\tI (idle)\n", None),
        ("VmRSS:\tlots kB\n", None),
    ],
)
def test_rss_kib(text: str, expected: int | None) -> None:
    assert rss_kib(text) == expected
