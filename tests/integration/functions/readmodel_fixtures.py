"""Fixtures of the read-model integration tests (imported explicitly by test_readmodel_*.py).

Each test module gets its own PostgreSQL database (migrated), MongoDB database and Redis prefix, so
filters and counts see only what the module wrote, while other developers test against the same servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pymongo
import pytest
import redis
import uvicorn
from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import Response

from functions.core.migrations import migrate
from functions.readmodel.app import ReadModelApp

TOKEN = "replay-token-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stores:
    database_url: str
    mongodb_url: str
    database: str
    redis_url: str
    prefix: str
    mongo: pymongo.MongoClient[dict[str, Any]]
    redis: redis.Redis

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url, "MONGODB_URL": self.mongodb_url, "MONGODB_DATABASE": self.database,
            "REDIS_URL": self.redis_url, "REDIS_PREFIX": self.prefix, **extra,
        }  # fmt: skip

    @property
    def events(self) -> Any:
        return self.mongo[self.database]["job_events"]

    @property
    def dead_letters(self) -> Any:
        return self.mongo[self.database]["dead_letters"]

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []


def _url(conninfo: str, dbname: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    user, host, port = info.get("user", "postgres"), info.get("host", "127.0.0.1"), info.get("port", "5432")
    return f"postgresql://{user}@{host}:{port}/{dbname}"


@pytest.fixture(scope="module", name="stores")
def stores_fixture(services: Any) -> Iterator[Stores]:
    name = f"obs_readmodel_{secrets.token_hex(4)}"
    url = _url(services.database_url, name)
    migrate(url)
    found = Stores(
        database_url=url, mongodb_url=services.mongodb_url, database=name, redis_url=services.redis_url,
        prefix=f"{name}:", mongo=pymongo.MongoClient(services.mongodb_url, serverSelectionTimeoutMS=3000, tz_aware=True),
        redis=redis.Redis.from_url(services.redis_url, decode_responses=True),
    )  # fmt: skip
    yield found
    found.mongo.drop_database(name)
    found.mongo.close()
    for key in found.redis.scan_iter(match=found.prefix + "*", count=1000):
        found.redis.delete(key)
    with psycopg.connect(_url(services.database_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def asgi(app: ReadModelApp) -> Any:
    async def call(scope: Any, receive: Any, send: Any) -> None:
        response = await app.handle(Request(scope, receive))
        await response(scope, receive, send)

    return call


@contextlib.asynccontextmanager
async def client_for(app: ReadModelApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi(app))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://readmodel") as client:
            yield client
    finally:
        await app.resources.stop()


# -- a real HTTP sink standing in for the broker ingress -------------------------------------------------


@dataclass
class RecordingSink:
    """Answers ``status`` to every POST and keeps the CloudEvents it accepted (binary mode)."""

    status: int = 202
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        if self.status < 300:
            attrs = {k[3:]: v for k, v in request.headers.items() if k.startswith("ce-")}
            self.received.append({**attrs, "data": json.loads(body) if body else None})
        await Response(status_code=self.status)(scope, receive, send)


@contextlib.asynccontextmanager
async def running_sink(status: int = 202) -> AsyncIterator[RecordingSink]:
    sink = RecordingSink(status)
    server = uvicorn.Server(
        uvicorn.Config(sink, host="127.0.0.1", port=sink.port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield sink
    finally:
        server.should_exit = True
        await task


# -- seeding ---------------------------------------------------------------------------------------------

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def insert_job(
    stores: Stores,
    *,
    job_id: str | None = None,
    job_type: str = "echo",
    status: str = "PENDING",
    created_at: datetime = BASE_TIME,
    payload: dict[str, Any] | None = None,
    generation: int = 0,
    finished: bool | None = None,
) -> str:
    job_id = job_id or str(uuid.uuid4())
    rank = {"PENDING": 0, "EXECUTING": 1}.get(status, 2)
    done = finished if finished is not None else rank == 2
    stores.sql(
        """INSERT INTO jobs (id, type, status, status_rank, generation, payload, attempts, created_at, updated_at,
                             started_at, finished_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (job_id, job_type, status, rank, generation, Jsonb(payload or {"message": "hello"}), int(rank > 0),
         created_at, created_at, created_at + timedelta(seconds=1) if rank else None,
         created_at + timedelta(seconds=2) if done else None),
    )  # fmt: skip
    return job_id


def event_doc(job_id: str, phase: str, when: datetime, *, data: dict[str, Any] | None = None,
              valid: bool = True, source: str = "/observatory/test") -> dict[str, Any]:  # fmt: skip
    return {
        "source": source, "id": f"{job_id}.{phase}.{secrets.token_hex(3)}", "type": f"dev.observatory.job.{phase}",
        "time": when, "jobid": job_id, "jobtype": "echo", "correlationid": "corr", "dataschema": None,
        "data": data or {"jobId": job_id, "type": "echo"}, "receivedAt": when, "valid": valid,
    }  # fmt: skip
