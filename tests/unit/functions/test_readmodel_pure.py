"""Vectors for the read model's pure parts: parameters, cursors, SQL shape, CORS, SSE framing, alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.errors import BadRequest
from functions.core.jobs import JobStatus
from functions.readmodel import sse
from functions.readmodel.alerts import alert_view
from functions.readmodel.cors import CorsPolicy
from functions.readmodel.params import (
    EventQuery,
    decode_cursor,
    encode_cursor,
    event_query,
    flag_of,
    job_query,
    seconds_of,
)
from functions.readmodel.queries import SEARCH_EXPRESSION, events_filter, jobs_sql, like_pattern

MIGRATION_0001 = "functions/core/stores/migrations/0001_jobs.sql"
JOB = "0b6f1c3a-5c1e-4f0b-9a47-3d1f2b7c8e90"


def test_cursor_round_trip_keeps_microseconds() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(when, JOB)) == (when, JOB)


@pytest.mark.parametrize("raw", ["", "%%%", "bm9wZQ", "WyJ4Il0", "WyIyMDI2LTAxLTAxIiwxXQ"])
def test_foreign_cursors_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_cursor(raw)
    assert caught.value.errors[0].pointer == "/query/cursor"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"limit": 50}),
        ({"limit": "200"}, {"limit": 200}),
        ({"status": "failed"}, {"status": JobStatus.FAILED}),
        ({"type": "word-count"}, {"job_type": "word-count"}),
        ({"q": "  abc  "}, {"q": "abc"}),
        ({"since": "2026-01-01T01:00:00+01:00"}, {"since": datetime(2026, 1, 1, tzinfo=UTC)}),
    ],
)
def test_job_query_vectors(query: dict[str, str], expected: dict[str, Any]) -> None:
    parsed = job_query(query)
    for name, value in expected.items():
        assert getattr(parsed, name) == value


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"status": "RUNNING"}, "status"),
        ({"type": "../etc"}, "type"),
        ({"until": "tomorrow"}, "until"),
        ({"q": "x" * 201}, "q"),
        ({"page": "2"}, "page"),
    ],
)
def test_job_query_refusals_name_the_parameter(query: dict[str, str], parameter: str) -> None:
    with pytest.raises(BadRequest) as caught:
        job_query(query)
    assert [e.pointer for e in caught.value.errors] == [f"/query/{parameter}"]


def test_event_query_cursor_needs_an_object_id() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert event_query({"cursor": encode_cursor(when, "65a1b2c3d4e5f60718293a4b")}).after == (
        when, "65a1b2c3d4e5f60718293a4b"
    )  # fmt: skip
    with pytest.raises(BadRequest):
        event_query({"cursor": encode_cursor(when, JOB)})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, False),
        ({"force": ""}, True),
        ({"force": "true"}, True),
        ({"force": "1"}, True),
        ({"force": "no"}, False),
    ],
)
def test_flag(query: dict[str, str], expected: bool) -> None:
    assert flag_of(query, "force") is expected


@pytest.mark.parametrize("raw", ["0", "nan", "inf", "-1", "61", "x"])
def test_seconds_out_of_range(raw: str) -> None:
    with pytest.raises(BadRequest):
        seconds_of({"interval": raw}, "interval", 1.0, 0.1, 60.0)


def test_search_expression_is_the_migration_index_expression() -> None:
    """The planner only uses the trigram index for exactly its own expression."""
    from pathlib import Path

    migration = (Path(__file__).resolve().parents[3] / MIGRATION_0001).read_text()
    assert f"gin ({SEARCH_EXPRESSION} gin_trgm_ops)" in migration


def test_jobs_sql_shape() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    sql, params = jobs_sql(
        job_query({"status": "FAILED", "q": "50%_off", "cursor": encode_cursor(when, JOB)})
    )
    assert sql.endswith("ORDER BY created_at DESC, id DESC LIMIT %(limit)s")
    assert "(created_at, id) < (%(after_at)s, %(after_id)s::uuid)" in sql
    assert f"{SEARCH_EXPRESSION} ILIKE %(q)s" in sql
    assert params["q"] == "%50\\%\\_off%"
    assert params["limit"] == 51
    assert "OFFSET" not in sql


@pytest.mark.parametrize(("text", "pattern"), [("abc", "%abc%"), ("a\\b", "%a\\\\b%"), ("_%", "%\\_\\%%")])
def test_like_pattern(text: str, pattern: str) -> None:
    assert like_pattern(text) == pattern


def test_events_filter_keyset() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    found = events_filter(EventQuery(job_id=JOB, event_type="t", after=(when, "65a1b2c3d4e5f60718293a4b")))
    assert found["jobid"] == JOB and found["type"] == "t"
    assert found["$or"][0] == {"time": {"$lt": when}}


DEFAULT = CorsPolicy(("http://localhost:*", "http://127.0.0.1:*", "null"))


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:8081", True),
        ("http://localhost", True),
        ("http://LOCALHOST:3000", True),
        ("http://127.0.0.1:9", True),
        ("null", True),
        ("https://localhost:8081", False),
        ("http://localhost:8081.evil.example", False),
        ("http://evil.example", False),
        ("", False),
        (None, False),
    ],
)
def test_cors_default_allowlist(origin: str | None, allowed: bool) -> None:
    assert DEFAULT.allows(origin) is allowed
    assert ("Access-Control-Allow-Origin" in DEFAULT.headers(origin)) is allowed
    assert ("Access-Control-Allow-Methods" in DEFAULT.preflight(origin)) is allowed


def test_cors_exact_and_star() -> None:
    exact = CorsPolicy(("https://observatory.example",))
    assert exact.allows("https://observatory.example")
    assert not exact.allows("https://observatory.example:444")
    assert CorsPolicy(("*",)).allows("https://anything.example")


def test_sse_framing() -> None:
    assert sse.event("stats", {"a": "x\ny"}, "7") == b'event: stats\nid: 7\ndata: {"a":"x\\ny"}\n\n'
    assert sse.comment("hb") == b": hb\n\n"
    assert sse.retry(2000) == b"retry: 2000\n\n"


def test_alert_view() -> None:
    raw = {
        "labels": {"alertname": "HighLatency", "severity": "warning"},
        "annotations": {"summary": "p99 over 1 s"},
        "status": {"state": "active"},
        "startsAt": "2026-01-01T00:00:00Z",
        "fingerprint": "abc",
    }
    view = alert_view(raw)
    assert view["name"] == "HighLatency" and view["state"] == "active" and view["summary"] == "p99 over 1 s"
    assert alert_view({})["name"] is None
