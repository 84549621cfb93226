"""Markdown formatting of benchmark results, and parsing of the ingress micro-benchmark's output."""

from __future__ import annotations

from typing import Any

import pytest

from tui.bench.report import cell, markdown, table
from tui.bench.scenarios.ingest import RawFigures, parse_raw


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "-"),
        (True, "yes"),
        (False, "no"),
        (0.123, "0.12"),
        (1234.5, "1,234"),  # large floats lose their decimals, rounded half to even
        (1234567, "1,234,567"),
        ("a|b", "a\\|b"),
        ("two\nlines", "two lines"),
        ({"k": [1, 2]}, '{"k": [1, 2]}'),
    ],
)
def test_cell(value: Any, expected: str) -> None:
    assert cell(value) == expected


def test_table_takes_the_union_of_columns_in_first_seen_order() -> None:
    rows: list[dict[str, Any]] = [{"a": 1, "b": 2.5}, {"b": None, "c": "x"}]
    assert table(rows) == [
        "| a | b | c |",
        "|---|---|---|",
        "| 1 | 2.50 | - |",
        "| - | - | x |",
    ]


def test_table_of_no_rows() -> None:
    assert table([]) == ["(no rows)"]


def _run() -> dict[str, Any]:
    return {
        "run_id": "abc123",
        "mode": "quick",
        "started_at": "2026-01-01T00:00:00+00:00",
        "seconds": 12.5,
        "load_start": [1.0, 1.0, 1.0],
        "load_end": [2.0, 2.0, 2.0],
        "machine": {"cpus": 2, "memory_mb": 4096, "services": {"redis": "7"}, "packages": {"pika": "1.3"}},
        "scenarios": [
            {
                "name": "ingest",
                "title": "Ingest",
                "conditions": {"requests": 600, "skipped": None},
                "tables": {"throughput": [{"concurrency": 1, "jobs_per_s": 16.2}], "series": [{"x": 1}]},
                "verdicts": [{"name": "ratio c=1", "value": 0.04, "target": ">= 0.6", "met": False}],
                "notes": ["a note"],
                "files": ["autoscale.png"],
                "error": None,
                "seconds": 3.0,
            },
            {
                "name": "e2e",
                "title": "E2E",
                "conditions": {},
                "tables": {},
                "verdicts": [],
                "notes": [],
                "files": [],
                "error": "RuntimeStartFailed: boom",
                "seconds": 1.0,
            },
        ],
    }


def test_markdown_lists_machine_targets_conditions_tables_and_failures() -> None:
    text = markdown(_run())
    assert text.startswith("# Benchmark results (quick run)\n")
    assert "- cpus: 2" in text
    assert "| ingest | ratio c=1 | 0.04 | >= 0.6 | **not met** |" in text
    assert "- requests: 600" in text
    assert "skipped" not in text  # conditions without a value are left out
    assert "| 1 | 16.20 |" in text
    assert "**series**" not in text  # raw time series stay in the JSON
    assert "![ingest](autoscale.png)" in text
    assert "**Failed:** RuntimeStartFailed: boom" in text


BENCH_INGRESS_OUTPUT = """\
conditions: 2 CPUs, Python 3.11.7, pika 1.3.2, httpx 0.28.1, one quorum queue bound
pika blocking  c=1        470 events/s (publish, wait for the confirm, repeat)
pika asyncio   c=1        379 events/s
pika asyncio   c=8       1150 events/s
pika asyncio   c=64      3316 events/s
ingress HTTP   c=1        292 events/s (0 non-202)
ingress HTTP   c=64      1211 events/s (3 non-202)
something else entirely
"""


def test_parse_raw_reads_every_known_line() -> None:
    assert parse_raw(BENCH_INGRESS_OUTPUT) == RawFigures(
        blocking=470.0, asyncio={1: 379.0, 8: 1150.0, 64: 3316.0}, ingress={1: 292.0, 64: 1211.0}
    )


def test_parse_raw_of_a_failed_run_is_empty() -> None:
    assert parse_raw("Traceback (most recent call last):\n") == RawFigures(None, {}, {})
