"""Vectors for the Textual client's pure logic (tui/widgets/view_model.py) and the SSE parser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.unit.tui.fakes import job
from tui.client import (
    ApiProblem,
    Endpoints,
    FieldProblem,
    ObservatoryClient,
    SseEvent,
    SseParser,
    Unreachable,
)
from tui.widgets import view_model as vm

A, B, C = "a" * 8 + "-0", "b" * 8 + "-0", "c" * 8 + "-0"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", (None, None)),
        ("  ", (None, None)),
        ("ab", (None, "type at least 3 characters to search")),
        (" abc ", ("abc", None)),
        ("x" * 300, ("x" * 200, None)),
    ],
)
def test_search_text(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert vm.search_text(raw) == expected


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (vm.JobFilter(), True),
        (vm.JobFilter(status="FAILED"), True),
        (vm.JobFilter(status="COMPLETED"), False),
        (vm.JobFilter(job_type="fail"), True),
        (vm.JobFilter(job_type="echo"), False),
        (vm.JobFilter(q="bbbb"), True),  # id contains it
        (vm.JobFilter(q="FAI"), True),  # type contains it, any case
        (vm.JobFilter(q="payload-only"), False),  # the stream carries no payload
        (vm.JobFilter(status="FAILED", job_type="fail", q="bbb"), True),
    ],
)
def test_matches(wanted: vm.JobFilter, expected: bool) -> None:
    assert vm.matches(job(B, "FAILED", "fail"), wanted) is expected


def test_upsert_orders_newest_first_replaces_in_place_and_drops_what_no_longer_matches() -> None:
    rows = [
        job(B, "PENDING", created="2026-01-02T00:00:02Z"),
        job(A, "PENDING", created="2026-01-02T00:00:01Z"),
    ]
    newer = job(C, "PENDING", created="2026-01-02T00:00:03Z")
    assert [r["id"] for r in vm.upsert(rows, newer, vm.JobFilter())] == [C, B, A]
    changed = vm.upsert(rows, job(A, "COMPLETED", created="2026-01-02T00:00:01Z"), vm.JobFilter())
    assert [(r["id"], r["status"]) for r in changed] == [(B, "PENDING"), (A, "COMPLETED")]
    only_pending = vm.upsert(
        rows, job(A, "COMPLETED", created="2026-01-02T00:00:01Z"), vm.JobFilter("PENDING")
    )
    assert [r["id"] for r in only_pending] == [B]
    assert len(vm.upsert(rows, newer, vm.JobFilter(), cap=2)) == 2


def test_merge_page_keeps_each_job_once() -> None:
    shown = [job(B, "PENDING", created="2026-01-02T00:00:02Z")]
    page = [
        job(B, "COMPLETED", created="2026-01-02T00:00:02Z"),
        job(A, "FAILED", created="2026-01-02T00:00:01Z"),
    ]
    assert [(r["id"], r["status"]) for r in vm.merge_page(shown, page)] == [(B, "COMPLETED"), (A, "FAILED")]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        ("12", "—"),
        (True, "—"),
        (0.25, "0.25 ms"),
        (4.2, "4.2 ms"),
        (150.4, "150 ms"),
        (1234, "1.23 s"),
    ],
)
def test_millis(value: object, text: str) -> None:
    assert vm.millis(value) == text


@pytest.mark.parametrize(
    ("raw", "text"),
    [(None, "never"), ("garbage", "never"), ("2026-01-02T03:04:00Z", "5s ago"), ("2026-01-02T02:04:05Z", "1h ago"),
     ("2026-01-02T03:00:05Z", "4m ago"), ("2025-12-30T03:04:05Z", "3d ago"), ("2026-01-02T03:04:09Z", "0s ago")],
)  # fmt: skip
def test_ago(raw: object, text: str) -> None:
    assert vm.ago(raw, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == text


@pytest.mark.parametrize(
    ("text", "payload", "why"),
    [
        ('{"a": 1}', {"a": 1}, None),
        ("", {}, None),
        ("[1]", None, 'payload must be a JSON object, e.g. {"message": "hi"}'),
        ('{"a": ', None, "payload is not valid JSON: Expecting value at line 1 column 7"),
    ],
)
def test_parse_payload(text: str, payload: dict[str, Any] | None, why: str | None) -> None:
    assert vm.parse_payload(text) == (payload, why)


def test_sample_payloads_cover_every_type() -> None:
    assert set(vm.SAMPLE_PAYLOADS) == set(vm.JOB_TYPES)


@pytest.mark.parametrize(
    ("env", "platform", "blocked"),
    [
        ({}, "darwin", False),
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({}, "linux", True),
        ({"DISPLAY": ":0", "SSH_TTY": "/dev/pts/1"}, "linux", True),
        ({"SSH_CLIENT": "10.0.0.1 5 22"}, "darwin", True),
    ],
)
def test_browser_blocker(env: dict[str, str], platform: str, blocked: bool) -> None:
    assert (vm.browser_blocker(env, platform) is not None) is blocked


@pytest.mark.parametrize(
    ("values", "data"),
    [
        ([], [0.0, 0.0]),
        ([0, 0], [0.0, 0.0]),
        ([5], [0.0, 5.0]),
        ([3, 4], [0.0, 3.0, 4.0]),
        ([0, 2], [0.0, 2.0]),
    ],
)
def test_sparkline_data_is_anchored_at_zero(values: list[float], data: list[float]) -> None:
    assert vm.sparkline_data(values) == data


@pytest.mark.parametrize(("attempt", "delay"), [(1, 1.0), (2, 1.5), (3, 2.25), (20, 15.0)])
def test_reconnect_delay(attempt: int, delay: float) -> None:
    assert vm.reconnect_delay(attempt, 1.0) == delay


def test_problem_lines() -> None:
    errors = [FieldProblem("/payload/seconds", "required"), FieldProblem("", "bad body")]
    assert vm.problem_lines(errors) == ["payload.seconds: required", "(whole body): bad body"]


def test_local_uis_are_the_design_port_map() -> None:
    assert {u.key: u.port for u in vm.LOCAL_UIS} == {
        "web": 8081, "gateway": 3000, "readmodel": 8080, "rabbitmq": 15672, "prometheus": 9090,
        "alertmanager": 9093, "grafana": 3002,
    }  # fmt: skip


# -- SSE and the HTTP client ----------------------------------------------------------------------------


def test_sse_parser_follows_the_event_stream_rules() -> None:
    parser = SseParser()
    lines = ["retry: 2000", "", ": heartbeat", "event: stats", "id: 7", 'data: {"a":', "data: 1}", "",
             "data: plain", "", "event: empty", ""]  # fmt: skip
    found = [e for e in (parser.feed(line) for line in lines) if e is not None]
    assert parser.retry_ms == 2000
    assert found == [SseEvent("stats", {"a": 1}, "7"), SseEvent("message", "plain", "7")]


async def test_client_turns_problems_and_dead_ports_into_typed_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 9:
            raise httpx.ConnectError("refused", request=request)
        body = {"title": "Bad Request", "status": 400, "detail": "query parameter q: too short",
                "errors": [{"pointer": "/query/q", "message": "search text must be 3 to 200 characters"}]}  # fmt: skip
        return httpx.Response(400, json=body)

    client = ObservatoryClient(
        Endpoints("http://127.0.0.1:8080/", "http://127.0.0.1:9"), httpx.MockTransport(handler)
    )
    with pytest.raises(ApiProblem) as problem:
        await client.jobs(q="ab")
    assert problem.value.status == 400
    assert problem.value.errors == (FieldProblem("/query/q", "search text must be 3 to 200 characters"),)
    with pytest.raises(Unreachable) as down:
        await client.submit("echo", {"message": "hi"})
    assert str(down.value) == (
        "gateway unreachable at http://127.0.0.1:9 — start it with `observatory up` (connection refused)"
    )
    assert await client.probe("http://127.0.0.1:9/") == "connection refused"
    assert await client.probe("http://127.0.0.1:8080/") is None  # a 400 still means something answers
    await client.aclose()


def test_local_uis_follow_the_dashboards_endpoints() -> None:
    found = {u.key: u.url for u in vm.local_uis("http://10.1.2.3:18080/", "http://gw:3100")}
    assert found["readmodel"] == "http://10.1.2.3:18080/openapi.json"
    assert found["gateway"] == "http://gw:3100/openapi.json"
    assert found["grafana"] == "http://127.0.0.1:3002/"


@pytest.mark.parametrize(
    ("raw", "precise", "pattern"),
    [(None, False, "—"), ("2026-01-02T03:04:05.123Z", True, r"^\d\d:\d\d:05\.123$"),
     ("2026-01-02T03:04:05Z", False, r"^\d\d:\d\d:05$")],
)  # fmt: skip
def test_clock(raw: object, precise: bool, pattern: str) -> None:
    import re

    assert re.match(pattern, vm.clock(raw, precise=precise))
