"""The ``observatory`` command as a user runs it: exit codes, one readable line, nothing sent on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[3]
OBSERVATORY = [sys.executable, "-m", "tui.cli"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OBSERVATORY, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


class _Recorder(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append(body)
        self.send_response(202)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(
            b'{"jobId": "00000000-0000-0000-0000-000000000000", "eventId": "e", "status": "PENDING"}'
        )

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[bytes]]]:
    _Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.received
    server.shutdown()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["submit", "sleep", "--payload", '{"seconds": 99}'],
            "/payload/seconds: 99 is greater than the maximum of 30",
        ),
        (["submit", "nope"], "/type: 'nope' is not a known job type"),
        (["submit", "echo", "--payload", "{not json"], "--payload is not valid JSON"),
        (["submit", "echo", "--payload", "[1]"], "--payload must be a JSON object"),
        (["submit", "echo", "--count", "0"], "--count must be in"),
    ],
)
def test_submit_refuses_bad_input_with_one_line_and_sends_nothing(
    gateway: tuple[str, list[bytes]], args: list[str], says: str
) -> None:
    url, received = gateway
    result = run(*args, "--gateway", url)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert lines[0].startswith("observatory submit: ")
    assert received == []


def test_submit_refuses_a_gateway_off_loopback(gateway: tuple[str, list[bytes]]) -> None:
    result = run("submit", "echo", "--gateway", "http://203.0.113.9:3000")
    assert result.returncode == 2 and "loopback" in result.stderr


def test_submit_sends_valid_jobs_and_reports_counts(gateway: tuple[str, list[bytes]]) -> None:
    url, received = gateway
    result = run("submit", "echo", "--payload", '{"message": "hi"}', "--count", "5", "--gateway", url)
    assert result.returncode == 0, result.stderr
    assert "accepted 5, rejected 0 of 5" in result.stdout
    assert len(received) == 5


def test_status_without_a_runtime_says_so(tmp_path: Path) -> None:
    result = run("status", env={"KNLOCAL_STATE_DIR": str(tmp_path), "KNLOCAL_ADMIN_PORT": "1"})
    assert result.returncode == 1
    assert "not running" in (result.stdout + result.stderr)


def test_db_migrate_twice_on_a_fresh_database(services: Any) -> None:
    url = services.database_url.rsplit("/", 1)[0] + f"/obs_cli_{services.tag}"
    try:
        first = run("db", "migrate", "--database-url", url)
        second = run("db", "migrate", "--database-url", url)
        assert first.returncode == 0 and "applying 0001_jobs" in first.stdout, first.stderr
        assert second.returncode == 0 and "database is up to date" in second.stdout
        with psycopg.connect(url) as conn:
            versions = [
                row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")
            ]
        assert versions == sorted(versions) and versions[0] == 1
    finally:
        admin = services.database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "obs_cli_{services.tag}" WITH (FORCE)')


def test_db_migrate_unreachable_database_is_one_line() -> None:
    result = run("db", "migrate", "--database-url", "postgresql://postgres@127.0.0.1:1/x")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "scripts/services.sh up" in lines[0]


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in (
        "up",
        "down",
        "status",
        "submit",
        "logs",
        "db",
        "contracts",
        "validate",
        "dashboard",
        "web",
    ):
        assert f"    {command}" in result.stdout
