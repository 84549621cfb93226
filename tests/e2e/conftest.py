"""One local runtime (``python -m knlocal``) per e2e module, on isolated stores and random ports.

Isolation: its own PostgreSQL database, MongoDB database and Redis prefix (``obs_e2e_<tag>``), its own
broker UID (so its own RabbitMQ exchanges and queues, deleted afterwards), random loopback ports for the
ingress, the admin port, the gateway and the read model. Windows are shortened through settings only
(stable window 6 s, scale-to-zero grace 2 s, tick 1 s, retry backoff x0.1); the logic is the shipped one.
Prometheus and Alertmanager are off (they would take 9090/9093); a module that wants them, or other
settings, overrides the ``runtime_env_overrides`` fixture.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pika
import psycopg
import pymongo
import pytest
import redis

from knlocal import manifests
from knlocal.config import RuntimeConfig
from knlocal.eventing import topology as rmq_topology
from knlocal.state import read_state

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MONGODB_URL = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
START_DEADLINE_S = 180.0

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], deadline_s: float, interval_s: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    end = time.monotonic() + deadline_s
    last: T | None = None
    while time.monotonic() < end:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"{what}: not reached within {deadline_s:g}s (last: {last!r})")


@dataclass
class RunningRuntime:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    state_dir: Path
    database_url: str
    mongo_db: Any
    redis: redis.Redis
    redis_prefix: str
    admin_url: str
    gateway_url: str
    readmodel_url: str

    def admin(self) -> dict[str, Any]:
        doc: dict[str, Any] = httpx.get(self.admin_url, timeout=10).json()
        return doc

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.admin()["services"] if s["name"] == name)

    def pg(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def runtime_env_overrides() -> dict[str, str]:
    """Settings a test module adds to (or changes in) its runtime's environment."""
    return {}


@pytest.fixture(scope="module")
def runtime(
    tmp_path_factory: pytest.TempPathFactory, runtime_env_overrides: dict[str, str]
) -> Iterator[RunningRuntime]:
    tag = secrets.token_hex(4)
    name = f"obs_e2e_{tag}"
    # A URL, not a conninfo string: the functions' settings accept only postgresql:// URLs.
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    from functions.core.migrations import migrate

    migrate(database_url)  # creates the database; fails (not skips) when PostgreSQL is missing
    mongo: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        MONGODB_URL, serverSelectionTimeoutMS=5000
    )
    mongo.admin.command("ping")
    rds = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    rds.ping()
    state_dir = tmp_path_factory.mktemp("knlocal")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MONGODB_URL": MONGODB_URL,
        "MONGODB_DATABASE": name,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": f"{name}:",
        "RABBITMQ_URL": RABBITMQ_URL,
        "KNLOCAL_STATE_DIR": str(state_dir),
        "KNLOCAL_BROKER_UID": f"e2e-{tag}",
        "KNLOCAL_INGRESS_PORT": "0",
        "KNLOCAL_ADMIN_PORT": "0",
        "KNLOCAL_PORT_OVERRIDES": "gateway=0,readmodel=0",
        "KNLOCAL_STABLE_WINDOW": "6s",
        "KNLOCAL_SCALE_TO_ZERO_GRACE": "2s",
        "KNLOCAL_TICK_INTERVAL": "1s",
        "KNLOCAL_RETRY_DELAY_SCALE": "0.1",
        "KNLOCAL_OBSERVABILITY": "off",
        **runtime_env_overrides,
    }
    log = (state_dir / "knlocal.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "knlocal"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def ready() -> Any:
            if process.poll() is not None:
                raise AssertionError(
                    f"knlocal exited with {process.returncode}: {(state_dir / 'knlocal.out').read_text()[-2000:]}"
                )
            state = read_state(state_dir)
            if state is None:
                return None
            try:
                return state if httpx.get(state.admin_url + "/readyz", timeout=5).status_code == 200 else None
            except httpx.HTTPError:
                return None

        state = wait_for("the runtime is ready", ready, START_DEADLINE_S)
        yield RunningRuntime(
            process=process,
            env=env,
            state_dir=state_dir,
            database_url=database_url,
            mongo_db=mongo[name],
            redis=rds,
            redis_prefix=f"{name}:",
            admin_url=state.admin_url,
            gateway_url=state.services["gateway"],
            readmodel_url=state.services["readmodel"],
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        _delete_broker(f"e2e-{tag}")
        mongo.drop_database(name)
        for key in rds.scan_iter(match=f"{name}:*", count=1000):
            rds.delete(key)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _delete_broker(uid: str) -> None:
    topo = manifests.load_topology(ROOT / "knative")
    broker = next(iter(topo.brokers.values()))
    plan = rmq_topology.plan(topo, broker, RuntimeConfig.from_env({"KNLOCAL_BROKER_UID": uid}))
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = conn.channel()
        for queue in plan.queues:
            channel.queue_delete(queue)
        for exchange in plan.exchanges:
            channel.exchange_delete(exchange)
    finally:
        conn.close()
