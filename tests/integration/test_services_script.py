"""scripts/services.sh against the real services: reuse what runs, start what does not, stop only its own.

The servers on the standard ports are shared by everyone on this machine, so `down` is never run against
them: it runs only in a scratch copy of the tree whose own Redis and MongoDB-wire servers the same test
started on free ports.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import psycopg
import pymongo
import pytest
import redis

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "services.sh"
SERVICES = ("postgresql", "rabbitmq", "redis", "mongodb")
STANDARD_PORTS = {"postgresql": 5432, "rabbitmq": 5672, "redis": 6379, "mongodb": 27017}
USAGE = "usage: services.sh up|down|status [--json]"
# Settings that move the script off the standard local ports; each test sets the ones it means.
PORT_SETTINGS = (
    "POSTGRES_PORT",
    "RABBITMQ_PORT",
    "RABBITMQ_MANAGEMENT_PORT",
    "REDIS_PORT",
    "MONGODB_PORT",
    "MONGODB_URL",
)


def run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in PORT_SETTINGS}
    # The timeout only keeps a hung script from hanging the suite; nothing is asserted about duration.
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env={**base, **env}, timeout=600, check=False
    )


def status_json(script: Path, **env: str) -> dict[str, dict[str, Any]]:
    done = run(script, "status", "--json", **env)
    parsed: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return parsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def mongo_ping(url: str) -> None:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    with client:
        assert client.admin.command("ping")["ok"] == 1


@pytest.mark.parametrize(
    "args", [("frobnicate",), (), ("status", "--yaml"), ("up", "--json"), ("down", "now")]
)
def test_bad_command_line_is_a_one_line_usage_error_with_exit_2(args: tuple[str, ...]) -> None:
    done = run(SCRIPT, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert USAGE in done.stderr


def test_bad_port_setting_is_a_usage_error() -> None:
    done = run(SCRIPT, "status", REDIS_PORT="63 79")
    assert done.returncode == 2
    assert "REDIS_PORT must be 1-65535" in done.stderr


@pytest.fixture(scope="module")
def shared_up() -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """`up` twice on the real tree; what the first starts stays running for everyone (no `down`)."""
    return run(SCRIPT, "up"), run(SCRIPT, "up")


def test_up_twice_second_run_finds_everything_running(
    shared_up: tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]],
) -> None:
    first, second = shared_up
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for service, port in STANDARD_PORTS.items():
        assert f"{service}: already running on 127.0.0.1:{port}" in second.stdout
    assert [line for line in second.stdout.splitlines() if ": started " in line or ": created " in line] == []
    assert "postgresql: database observatory exists (owner postgres)" in second.stdout
    assert "rabbitmq: management API on 127.0.0.1:15672 answers" in second.stdout


def test_status_json_shows_all_four_up(
    shared_up: tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]],
) -> None:
    status = status_json(SCRIPT)
    assert sorted(status) == sorted(SERVICES)
    for service, port in STANDARD_PORTS.items():
        assert status[service]["status"] == "up"
        assert status[service]["host"] == "127.0.0.1"
        assert status[service]["port"] == port
    assert status["rabbitmq"]["management"] == "up"
    text = run(SCRIPT, "status")
    assert text.returncode == 0
    assert [line.split()[:2] for line in text.stdout.splitlines()] == [[s, "up"] for s in SERVICES]


def test_each_service_answers_a_real_client(
    shared_up: tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]],
) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/observatory", connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_database(), pg_get_userbyid(datdba) FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
        assert row == ("observatory", "postgres")
    assert redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5).ping() is True
    connection = pika.BlockingConnection(
        pika.ConnectionParameters("127.0.0.1", 5672, credentials=pika.PlainCredentials("guest", "guest"))
    )
    try:
        assert connection.channel().is_open
    finally:
        connection.close()
    request = urllib.request.Request(
        "http://127.0.0.1:15672/api/overview",
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        assert "rabbitmq_version" in json.load(response)
    mongo_ping("mongodb://127.0.0.1:27017/?directConnection=true")


@dataclass(frozen=True)
class ScratchTree:
    """A copy of the script in its own tree, with its own Redis and MongoDB ports and run markers."""

    script: Path
    redis_port: int
    mongo_port: int

    @property
    def env(self) -> dict[str, str]:
        return {"REDIS_PORT": str(self.redis_port), "MONGODB_PORT": str(self.mongo_port)}

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run(self.script, *args, **{**self.env, **env})


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[ScratchTree]:
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    script = tree / "scripts" / "services.sh"
    script.write_bytes(SCRIPT.read_bytes())
    script.chmod(0o755)
    # The script looks for secantusd-py in the tree's own venv first.
    (tree / ".venv").symlink_to(ROOT / ".venv")
    scratch_tree = ScratchTree(script, free_port(), free_port())
    try:
        yield scratch_tree
    finally:
        # Safe: this tree's markers name only the servers this tree started.
        scratch_tree.run("down")


def test_up_starts_missing_servers_and_down_stops_only_those(scratch: ScratchTree) -> None:
    first = scratch.run("up")
    assert first.returncode == 0, first.stderr
    assert "postgresql: already running on 127.0.0.1:5432\n" in first.stdout
    assert "rabbitmq: already running on 127.0.0.1:5672\n" in first.stdout
    assert "redis: started redis-server" in first.stdout
    assert f"redis: 127.0.0.1:{scratch.redis_port} answers" in first.stdout
    assert "mongodb: started secantusd-py" in first.stdout
    assert f"mongodb: 127.0.0.1:{scratch.mongo_port} answers" in first.stdout

    # A second run must not wait on a lock held by the daemons the first one started.
    second = scratch.run("up")
    assert second.returncode == 0, second.stderr
    ours = "(started by services.sh)"
    assert f"redis: already running on 127.0.0.1:{scratch.redis_port} {ours}" in second.stdout
    assert f"mongodb: already running on 127.0.0.1:{scratch.mongo_port} {ours}" in second.stdout

    status = status_json(scratch.script, **scratch.env)
    assert {s: (v["status"], v["started_by"]) for s, v in status.items()} == {
        "postgresql": ("up", "external"),
        "rabbitmq": ("up", "external"),
        "redis": ("up", "services.sh"),
        "mongodb": ("up", "services.sh"),
    }
    assert redis.Redis(host="127.0.0.1", port=scratch.redis_port, socket_timeout=5).ping() is True
    scratch_mongo = f"mongodb://127.0.0.1:{scratch.mongo_port}/?directConnection=true"
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        scratch_mongo, serverSelectionTimeoutMS=5000
    )
    with client:
        client.services_script_test.probe.insert_one({"_id": 1})
        assert client.services_script_test.probe.count_documents({}) == 1

    down = scratch.run("down")
    assert down.returncode == 0, down.stderr
    assert "postgresql: left alone (not started by services.sh)" in down.stdout
    assert "rabbitmq: left alone (not started by services.sh)" in down.stdout
    assert "redis: stopped redis-server" in down.stdout
    assert "mongodb: stopped secantusd-py" in down.stdout

    after = scratch.run("status", "--json")
    assert after.returncode == 1
    states = {s: v["status"] for s, v in json.loads(after.stdout).items()}
    assert states == {"postgresql": "up", "rabbitmq": "up", "redis": "down", "mongodb": "down"}
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=scratch.redis_port, socket_timeout=5).ping()

    again = scratch.run("down")
    assert again.returncode == 0
    assert [line.split(":")[1].strip() for line in again.stdout.splitlines()] == [
        "left alone (not started by services.sh)"
    ] * 4


def test_mongodb_url_elsewhere_is_used_as_is_and_its_credentials_stay_hidden(scratch: ScratchTree) -> None:
    assert scratch.run("up").returncode == 0
    elsewhere = f"mongodb://127.0.0.1:{scratch.mongo_port}/"
    # MONGODB_PORT back at its default, so the URL names a server the script does not manage.
    env = {"REDIS_PORT": str(scratch.redis_port), "MONGODB_URL": elsewhere}
    used = run(scratch.script, "up", **env)
    assert used.returncode == 0, used.stderr
    assert f"mongodb: using MONGODB_URL {elsewhere} (answers ping)" in used.stdout
    status = status_json(scratch.script, **env)
    assert status["mongodb"] == {
        "status": "up",
        "host": "127.0.0.1",
        "port": scratch.mongo_port,
        "started_by": "MONGODB_URL",
        "url": elsewhere,
    }

    dead = f"mongodb://someone:hunter2@127.0.0.1:{free_port()}/"
    failed = run(scratch.script, "up", **{**env, "MONGODB_URL": dead})
    assert failed.returncode == 1
    assert "mongodb: error: MONGODB_URL mongodb://***@127.0.0.1:" in failed.stderr
    assert "does not answer a ping" in failed.stderr
    assert "hunter2" not in failed.stdout + failed.stderr
