"""The aggregator against real MongoDB-wire and Redis: idempotent audit, exactly-once aggregates."""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pymongo
import pytest
import redis
from starlette.requests import Request

from functions.aggregator.app import build_app
from functions.core.jobs import EventType
from functions.core.web import FunctionApp

pytestmark = pytest.mark.integration
# The aggregator never touches PostgreSQL; Settings still wants a well-formed URL.
UNUSED_PG = "postgresql://postgres@127.0.0.1:5432/unused"


@dataclass
class Harness:
    client: httpx.AsyncClient
    events: Any  # pymongo Collection
    redis: redis.Redis
    prefix: str

    def totals(self) -> dict[str, int]:
        raw: dict[str, str] = self.redis.hgetall(self.prefix + "totals")  # type: ignore[assignment]
        return {k: int(v) for k, v in raw.items()}


def asgi(app: FunctionApp) -> Any:
    """The FunctionApp as a bare ASGI app (what functions-framework does around it)."""

    async def call(scope: Any, receive: Any, send: Any) -> None:
        response = await app.handle(Request(scope, receive))
        await response(scope, receive, send)

    return call


@pytest.fixture
async def harness(services: Any) -> AsyncIterator[Harness]:
    tag = secrets.token_hex(4)
    database = f"obs_agg_{tag}"
    prefix = f"{services.redis_prefix}agg{tag}:"
    app = build_app(services.env(MONGODB_DATABASE=database, REDIS_PREFIX=prefix, DATABASE_URL=UNUSED_PG))
    mongo: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        services.mongodb_url, serverSelectionTimeoutMS=3000, tz_aware=True
    )
    rds = redis.Redis.from_url(services.redis_url, decode_responses=True)

    transport = httpx.ASGITransport(app=asgi(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://aggregator") as client:
        yield Harness(client, mongo[database]["job_events"], rds, prefix)
    await app.resources.stop()
    mongo.drop_database(database)
    for key in rds.scan_iter(match=prefix + "*", count=1000):
        rds.delete(key)
    mongo.close()


def binary(
    event_type: EventType,
    job_id: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    time: str = "2026-01-02T03:04:05Z",
    source: str = "/observatory/test",
) -> tuple[dict[str, str], bytes]:
    headers = {
        "content-type": "application/json", "ce-specversion": "1.0", "ce-type": event_type.value,
        "ce-source": source, "ce-id": event_id or f"{job_id}.{event_type.phase}.0", "ce-time": time,
        "ce-jobid": job_id, "ce-jobtype": "echo", "ce-correlationid": "corr-1",
    }  # fmt: skip
    return headers, json.dumps(data).encode()


def submitted(job_id: str) -> dict[str, Any]:
    return {"jobId": job_id, "type": "echo", "payload": {"message": "hi"},
            "submittedAt": "2026-01-02T03:04:05Z", "generation": 0}  # fmt: skip


def started(job_id: str) -> dict[str, Any]:
    return {"jobId": job_id, "type": "echo", "startedAt": "2026-01-02T03:04:06Z", "attempt": 1}


def completed(job_id: str) -> dict[str, Any]:
    return {"jobId": job_id, "type": "echo", "result": {"message": "hi"}, "startedAt": "2026-01-02T03:04:06Z",
            "completedAt": "2026-01-02T03:04:07Z", "durationMs": 1000}  # fmt: skip


async def test_same_event_twice_is_one_document_and_counted_once(harness: Harness) -> None:
    job = str(uuid.uuid4())
    headers, body = binary(EventType.SUBMITTED, job, submitted(job))
    for _ in range(2):
        response = await harness.client.post("/", headers=headers, content=body)
        assert response.status_code == 200
        assert response.content == b""
    assert harness.events.count_documents({"jobid": job}) == 1
    doc = harness.events.find_one({"jobid": job})
    assert doc["valid"] is True
    assert doc["correlationid"] == "corr-1"
    assert doc["time"].isoformat() == "2026-01-02T03:04:05+00:00"
    assert harness.totals() == {"PENDING": 1, "TOTAL": 1}


async def test_completed_before_started_ends_completed(harness: Harness) -> None:
    job = str(uuid.uuid4())
    for event_type, data, time in (
        (EventType.SUBMITTED, submitted(job), "2026-01-02T03:04:05Z"),
        (EventType.COMPLETED, completed(job), "2026-01-02T03:04:07Z"),
        (EventType.STARTED, started(job), "2026-01-02T03:04:06Z"),
    ):
        headers, body = binary(event_type, job, data, time=time)
        assert (await harness.client.post("/", headers=headers, content=body)).status_code == 200
    assert harness.totals() == {"PENDING": 0, "COMPLETED": 1, "TOTAL": 1}
    markers = harness.redis.hgetall(f"{harness.prefix}job:{job}")
    assert markers["status"] == "COMPLETED"
    assert markers["latency_ms"] == "2000"
    assert harness.events.count_documents({"jobid": job}) == 3


async def test_invalid_event_is_audited_with_violations(harness: Harness) -> None:
    job = str(uuid.uuid4())
    data = {**started(job), "attempt": 0, "surprise": True}
    headers, body = binary(EventType.STARTED, job, data)
    response = await harness.client.post("/", headers=headers, content=body)
    assert response.status_code == 200
    doc = harness.events.find_one({"jobid": job})
    assert doc is not None
    assert doc["valid"] is False
    pointers = {v["pointer"] for v in doc["violations"]}
    assert pointers == {"/attempt", "/surprise"}
    assert doc["data"] == data


async def test_malformed_cloudevent_is_400_and_stores_nothing(harness: Harness) -> None:
    response = await harness.client.post("/", headers={"content-type": "application/json"}, content=b"{}")
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert harness.events.count_documents({}) == 0


async def test_redis_down_answers_503_then_retry_completes(harness: Harness, services: Any) -> None:
    """A half-done delivery (audited, not counted) is completed by the broker's retry."""
    job = str(uuid.uuid4())
    headers, body = binary(EventType.SUBMITTED, job, submitted(job))
    # A real Redis client pointed at a port where nothing listens: the store is down, not mocked.
    broken = build_app(
        services.env(
            MONGODB_DATABASE=harness.events.database.name,
            REDIS_PREFIX=harness.prefix,
            DATABASE_URL=UNUSED_PG,
            REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi(broken)), base_url="http://a"
    ) as client:
        response = await client.post("/", headers=headers, content=body)
    await broken.resources.stop()
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert harness.events.count_documents({"jobid": job}) == 1
    assert harness.totals() == {}
    response = await harness.client.post("/", headers=headers, content=body)
    assert response.status_code == 200
    assert harness.events.count_documents({"jobid": job}) == 1
    assert harness.totals() == {"PENDING": 1, "TOTAL": 1}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
