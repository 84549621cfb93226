"""The dead-letter sink against real PostgreSQL, MongoDB and Redis."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pymongo
import pytest
import redis

from functions.core.stores.redis import Aggregates
from functions.deadletter.app import build_app

pytestmark = pytest.mark.integration

DEST = "http://processor.observatory.svc.cluster.local"


def dead_letter(event_type: str = "dev.observatory.job.submitted", job_id: str | None = None,
                **extensions: str) -> tuple[str, dict[str, str], bytes]:  # fmt: skip
    job_id = job_id or str(uuid.uuid4())
    body = {"jobId": job_id, "type": "fail", "payload": {"retryable": True},
            "submittedAt": "2024-05-01T10:00:00Z", "generation": 0}  # fmt: skip
    headers = {
        "content-type": "application/json", "ce-specversion": "1.0", "ce-type": event_type,
        "ce-source": "/observatory/gateway", "ce-id": f"{job_id}.{event_type.rsplit('.', 1)[1]}.0",
        "ce-jobid": job_id, "ce-jobtype": "fail", "ce-correlationid": "corr-dl",
        "ce-knativeerrordest": DEST, "ce-knativeerrorcode": "503", **extensions,
    }  # fmt: skip
    return job_id, headers, json.dumps(body).encode()


def job_row(database_url: str, job_id: str) -> dict[str, Any] | None:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()


def stored(services: Any, job_id: str) -> list[dict[str, Any]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(services.mongodb_url)
    collection = client[services.mongodb_database]["dead_letters"]
    return list(collection.find({"jobid": job_id}))


@pytest.fixture
def dl_env(fn_services: Any) -> Iterator[dict[str, str]]:
    """An env with a Redis prefix of its own, so the dead-letter count is this test's alone."""
    prefix = f"{fn_services.redis_prefix}dl-{uuid.uuid4().hex[:8]}:"
    yield fn_services.env(REDIS_PREFIX=prefix)
    client = redis.Redis.from_url(fn_services.redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


async def redis_view(env: dict[str, str], job_id: str) -> tuple[int, dict[str, str]]:
    aggregates = Aggregates.connect(env["REDIS_URL"], env["REDIS_PREFIX"])
    try:
        stats = await aggregates.stats(int(time.time()))
        return stats.dead_letters, await aggregates.job_markers(job_id)
    finally:
        await aggregates.close()


async def test_dead_letter_is_stored_marked_counted_and_announced(
    fn_services: Any, fn_client: Any, dl_env: dict[str, str]
) -> None:
    job_id, headers, body = dead_letter(**{"ce-knativeerrordata": base64.b64encode(b"boom").decode()})
    async with fn_client(build_app, dl_env) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 200, response.text
    assert response.headers["ce-type"] == "dev.observatory.job.deadlettered"
    assert response.headers["ce-id"] == f"{job_id}.deadlettered.0"
    assert response.headers["ce-correlationid"] == "corr-dl"
    reply = response.json()
    assert (reply["jobId"], reply["type"], reply["errorDest"], reply["errorCode"]) == (
        job_id,
        "fail",
        DEST,
        503,
    )
    [doc] = stored(fn_services, job_id)
    assert (doc["source"], doc["id"], doc["type"]) == (
        headers["ce-source"],
        headers["ce-id"],
        headers["ce-type"],
    )
    assert (
        doc["knativeerrordest"] == DEST
        and doc["knativeerrorcode"] == 503
        and doc["knativeerrordata"] == "boom"
    )
    assert doc["correlationid"] == "corr-dl" and doc["data"]["jobId"] == job_id and doc["receivedAt"]
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "DEAD_LETTERED"
    assert row["error"]["code"] == "deadlettered" and row["error"]["httpStatus"] == 503
    assert row["error"]["destination"] == DEST
    count, markers = await redis_view(dl_env, job_id)
    assert count == 1 and markers["status"] == "DEAD_LETTERED"


async def test_redelivery_changes_nothing_and_replies_the_same(
    fn_services: Any, fn_client: Any, dl_env: dict[str, str]
) -> None:
    job_id, headers, body = dead_letter()
    async with fn_client(build_app, dl_env) as (client, _):
        first = await client.post("/", headers=headers, content=body)
        second = await client.post("/", headers=headers, content=body)
    assert first.status_code == second.status_code == 200
    assert first.headers["ce-id"] == second.headers["ce-id"] and first.json() == second.json()
    assert len(stored(fn_services, job_id)) == 1
    count, _ = await redis_view(dl_env, job_id)
    assert count == 1


async def test_a_finished_job_is_not_marked(fn_services: Any, fn_client: Any, dl_env: dict[str, str]) -> None:
    job_id, headers, body = dead_letter()
    with psycopg.connect(fn_services.database_url) as conn:
        conn.execute(
            """INSERT INTO jobs (id, type, status, status_rank, payload) VALUES (%s, 'fail', 'COMPLETED', 2, '{}')""",
            (job_id,),
        )
    async with fn_client(build_app, dl_env) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 200 and response.content == b""
    assert len(stored(fn_services, job_id)) == 1
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "COMPLETED"
    count, _ = await redis_view(dl_env, job_id)
    assert count == 0


async def test_a_dead_lettered_progress_event_is_stored_without_touching_the_job(
    fn_services: Any, fn_client: Any, dl_env: dict[str, str]
) -> None:
    # e.g. the aggregator could not take a job.started event: the job itself is still fine.
    job_id, headers, body = dead_letter(
        "dev.observatory.job.started", **{"ce-knativeerrordata": "plain text"}
    )
    async with fn_client(build_app, dl_env) as (client, _):
        response = await client.post("/", headers=headers, content=body)
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200 and response.content == b""
    [doc] = stored(fn_services, job_id)
    assert doc["knativeerrordata"] == "plain text"
    assert job_row(fn_services.database_url, job_id) is None
    assert 'deadletter_events_total{type="dev.observatory.job.started"}' in metrics


async def test_not_a_cloudevent_is_refused(fn_services: Any, fn_client: Any, dl_env: dict[str, str]) -> None:
    async with fn_client(build_app, dl_env) as (client, _):
        response = await client.post("/", headers={"content-type": "application/json"}, content=b"{}")
        ready = await client.get("/readyz")
    assert response.status_code == 415 and response.headers["content-type"] == "application/problem+json"
    assert ready.json()["checks"] == {"postgres": True, "mongodb": True, "redis": True}
