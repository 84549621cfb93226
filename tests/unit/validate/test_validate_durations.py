"""Vectors for the Go and ISO-8601 duration parsers used by the admission rules."""

from __future__ import annotations

import pytest

from tui.validate.durations import DurationError, parse_go_duration, parse_iso8601_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("6s", 6.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("500ms", 0.5),
        ("2h45m", 9900.0),
        ("-1s", -1.0),
        ("100us", 1e-4),
    ],
)
def test_go_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "60", "1x", "s", "1m 30s", "PT1S", "1.2.3s"])
def test_go_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT0.2S", 0.2),
        ("PT1S", 1.0),
        ("PT1M", 60.0),
        ("PT1H30M", 5400.0),
        ("P1D", 86400.0),
        ("P1W", 604800.0),
        ("P1DT1S", 86401.0),
        ("PT0,5S", 0.5),
        ("-PT1S", -1.0),
    ],
)
def test_iso8601_duration(text: str, seconds: float) -> None:
    assert parse_iso8601_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "1S", "PT1", "0.2s", "P1S", "PT1D", "PTS", "P1DT"])
def test_iso8601_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_iso8601_duration(text)
