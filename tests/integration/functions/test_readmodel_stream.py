"""/stream over a real uvicorn process running the functions-framework entry point, as the runtime does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from readmodel_fixtures import BASE_TIME, Stores, free_port, insert_job, stores_fixture  # noqa: F401 - the stores fixture

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(stores: Stores) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        **stores.env(FUNCTION_TARGET="readmodel", FUNCTION_SOURCE="functions/readmodel/main.py"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "functions_framework.aio:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # wait for the port to answer (no assertion on how long it took)
            if proc.poll() is not None:
                raise AssertionError(f"uvicorn exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        print(f"\nreadmodel idle RSS before any request: {rss_kib(proc.pid)} KiB")
        yield base
        print(f"\nreadmodel RSS after the stream tests: {rss_kib(proc.pid)} KiB")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def read_events(lines: Iterator[str], wanted: int) -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    name, data = None, None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and name is not None and data is not None:
            found.append((name, data))
            name, data = None, None
            if len(found) >= wanted:
                break
    return found


def test_stream_sends_stats_then_job_changes(server: str, stores: Stores) -> None:
    with httpx.stream("GET", server + "/stream", params={"interval": "0.2"}, timeout=30,
                      headers={"Origin": "null"}) as response:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["access-control-allow-origin"] == "null"
        lines = response.iter_lines()
        (first,) = read_events(lines, 1)
        assert first[0] == "stats"
        assert set(first[1]) >= {
            "totals",
            "byType",
            "throughput",
            "latencyMs",
            "lastEventTime",
            "deadLetters",
        }
        job = insert_job(stores, created_at=BASE_TIME)
        stores.sql("UPDATE jobs SET updated_at = now() WHERE id = %s", (job,))
        jobs: list[dict[str, object]] = []
        while not jobs:
            jobs = [data for name, data in read_events(lines, 1) if name == "job"]
        assert jobs[0]["id"] == job
    # the client went away mid-stream; the server still answers
    assert httpx.get(server + "/health", timeout=5).json()["status"] == "ok"


def test_stream_refuses_bad_parameters(server: str) -> None:
    response = httpx.get(server + "/stream", params={"interval": "0"}, timeout=5)
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/query/interval"
