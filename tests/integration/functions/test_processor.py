"""The processor against real PostgreSQL and MongoDB, with a real HTTP sink for job.started."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pymongo
import pytest

import functions.processor.job_types.echo as echo_type
from functions.core.jobs import JobStatus
from functions.core.stores.postgres import JobRepository, make_pool
from functions.processor.app import build_app

pytestmark = pytest.mark.integration

SUBMITTED = "dev.observatory.job.submitted"


def submitted(
    job_type: str, payload: dict[str, Any], job_id: str | None = None, **data: Any
) -> tuple[str, dict[str, str], bytes]:
    job_id = job_id or str(uuid.uuid4())
    body = {"jobId": job_id, "type": job_type, "payload": payload,
            "submittedAt": "2024-05-01T10:00:00Z", "generation": 0, **data}  # fmt: skip
    headers = {
        "content-type": "application/json", "ce-specversion": "1.0", "ce-type": SUBMITTED,
        "ce-source": "/observatory/gateway", "ce-id": f"{job_id}.submitted.0", "ce-jobid": job_id,
        "ce-jobtype": job_type, "ce-correlationid": f"corr-{job_id[:8]}",
    }  # fmt: skip
    return job_id, headers, json.dumps(body).encode()


def job_row(database_url: str, job_id: str) -> dict[str, Any] | None:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()


def ce_of(response: Any) -> dict[str, str]:
    return {k[3:]: v for k, v in response.headers.items() if k.startswith("ce-")}


def invalid_events(services: Any) -> Any:
    return pymongo.MongoClient(services.mongodb_url)[services.mongodb_database]["invalid_events"]


@pytest.fixture
def echo_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Counts executions of the echo handler (patched before the registry discovers it)."""
    runs: list[dict[str, Any]] = []
    original = echo_type.run

    async def counting(payload: dict[str, Any]) -> dict[str, Any]:
        runs.append(payload)
        await asyncio.sleep(0.05)  # long enough that concurrent deliveries overlap
        return await original(payload)

    monkeypatch.setattr(echo_type, "run", counting)
    yield runs


async def test_a_job_runs_and_replies_completed(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("hash", {"data": "abc", "rounds": 3})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 200, response.text
    ce = ce_of(response)
    assert ce["type"] == "dev.observatory.job.completed" and ce["id"] == f"{job_id}.completed.0"
    assert ce["source"] == "/observatory/processor" and ce["jobid"] == job_id
    assert ce["correlationid"] == headers["ce-correlationid"]
    assert ce["dataschema"].endswith("/events/job-completed/1.0.0")
    expected = b"abc"
    for _ in range(3):
        expected = hashlib.sha256(expected).digest()
    reply = response.json()
    assert reply["result"]["digest"] == expected.hex() and reply["durationMs"] >= 0
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "COMPLETED" and row["result"]["digest"] == expected.hex()
    assert row["attempts"] == 1 and row["correlation_id"] == headers["ce-correlationid"]
    [started] = fn_sink.of_type("dev.observatory.job.started")
    assert started.ce["id"] == f"{job_id}.started.0" and json.loads(started.body)["attempt"] == 1


async def test_same_event_twice_runs_once_and_resends_the_same_reply(
    fn_services: Any, fn_sink: Any, fn_client: Any, echo_runs: list[dict[str, Any]]
) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("echo", {"message": "once"})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        first = await client.post("/", headers=headers, content=body)
        second = await client.post("/", headers=headers, content=body)
    assert first.status_code == second.status_code == 200
    assert ce_of(first)["id"] == ce_of(second)["id"] == f"{job_id}.completed.0"
    assert second.json()["result"] == {"message": "once"}
    assert len(echo_runs) == 1
    assert len(fn_sink.of_type("dev.observatory.job.started")) == 1
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "COMPLETED" and row["attempts"] == 1


async def test_concurrent_duplicate_deliveries_run_once(
    fn_services: Any, fn_sink: Any, fn_client: Any, echo_runs: list[dict[str, Any]]
) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("echo", {"message": "race"})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        answers = await asyncio.gather(*(client.post("/", headers=headers, content=body) for _ in range(4)))
    assert all(a.status_code == 200 for a in answers)
    assert len(echo_runs) == 1
    assert len(fn_sink.of_type("dev.observatory.job.started")) == 1
    replies = [ce_of(a)["id"] for a in answers if a.content]
    assert replies and set(replies) == {f"{job_id}.completed.0"}
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "COMPLETED" and row["attempts"] == 1


async def test_finish_before_claim_stays_finished(
    fn_services: Any, fn_sink: Any, fn_client: Any, echo_runs: list[dict[str, Any]]
) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("echo", {"message": "late"})
    pool = make_pool(fn_services.database_url, max_size=2)
    await pool.open(wait=True)
    try:
        repo = JobRepository(pool)
        assert await repo.finish(job_id, "echo", JobStatus.COMPLETED, result={"message": "late"})
        claim = await repo.claim(job_id, "echo", {"message": "late"}, correlation_id=None, event_id=None,
                                 lease_seconds=10)  # fmt: skip
        assert not claim.won and claim.status is JobStatus.COMPLETED
    finally:
        await pool.close()
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 200 and ce_of(response)["type"] == "dev.observatory.job.completed"
    assert echo_runs == []
    assert fn_sink.of_type("dev.observatory.job.started") == []
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "COMPLETED"


async def test_retryable_failure_answers_503_and_leaves_the_job_executing(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("fail", {"retryable": True, "message": "try again"})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        first = await client.post("/", headers=headers, content=body)
        row = job_row(fn_services.database_url, job_id)
        again = await client.post("/", headers=headers, content=body)
    assert first.status_code == 503 and first.headers["content-type"] == "application/problem+json"
    assert row is not None and row["status"] == "EXECUTING"
    assert row["error"]["code"] == "requested_failure" and row["error"]["retryable"] is True
    # The failure released the claim, so the broker's redelivery runs it again.
    assert again.status_code == 503
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "EXECUTING" and row["attempts"] == 2


async def test_permanent_failure_replies_failed(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("fail", {"message": "no way"})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 200
    assert (
        ce_of(response)["type"] == "dev.observatory.job.failed"
        and ce_of(response)["id"] == f"{job_id}.failed.0"
    )
    assert response.json()["error"] == {"code": "requested_failure", "message": "no way", "retryable": False}
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "FAILED" and row["error"]["code"] == "requested_failure"


@pytest.mark.parametrize(("rate", "status"), [(1.0, 503), (0.0, 200)])
async def test_flaky(fn_services: Any, fn_sink: Any, fn_client: Any, rate: float, status: int) -> None:
    job_id, headers, body = submitted("flaky", {"failureRate": rate})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == status
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == ("EXECUTING" if status == 503 else "COMPLETED")


async def test_timeout_ends_failed_with_reason_timeout(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    # sleep's timeout is 35 s; scaled by 0.01 it is 0.35 s, well under the 5 s the job asks for.
    job_id, headers, body = submitted("sleep", {"seconds": 5})
    env = fn_services.env(K_SINK=fn_sink.url, PROCESSOR_TIMEOUT_SCALE="0.01")
    async with fn_client(build_app, env) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 200 and ce_of(response)["type"] == "dev.observatory.job.failed"
    assert response.json()["error"]["code"] == "timeout"
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "FAILED" and row["error"]["code"] == "timeout"


async def test_invalid_event_fails_the_job_and_is_kept(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("hash", {"data": "abc", "rounds": 0})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        first = await client.post("/", headers=headers, content=body)
        second = await client.post("/", headers=headers, content=body)
    for response in (first, second):
        assert response.status_code == 200
        assert ce_of(response)["id"] == f"{job_id}.failed.0"
        assert response.json()["error"]["code"] == "invalid"
        assert "/data/payload/rounds" in response.json()["error"]["message"]
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "FAILED" and row["error"]["code"] == "invalid"
    kept = list(invalid_events(fn_services).find({"id": headers["ce-id"], "source": headers["ce-source"]}))
    assert len(kept) == 1 and kept[0]["jobid"] == job_id
    assert [e["pointer"] for e in kept[0]["errors"]] == ["/data/payload/rounds"]
    assert fn_sink.of_type("dev.observatory.job.started") == []


async def test_event_of_another_type_is_kept_and_touches_no_job(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    job_id, headers, body = submitted("echo", {"message": "m"})
    headers = {**headers, "ce-type": "dev.observatory.job.started", "ce-id": str(uuid.uuid4())}
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 200 and response.content == b""
    assert job_row(fn_services.database_url, job_id) is None
    assert invalid_events(fn_services).count_documents({"id": headers["ce-id"]}) == 1


async def test_not_a_cloudevent_is_refused_and_kept(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    body = f"not an event {uuid.uuid4()}".encode()
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", headers={"content-type": "text/plain"}, content=body)
    assert response.status_code == 415 and response.headers["content-type"] == "application/problem+json"
    assert invalid_events(fn_services).count_documents({"id": hashlib.sha256(body).hexdigest()}) == 1


async def test_without_k_sink_the_job_still_runs(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("wordcount", {"text": "one two\nthree"})
    async with fn_client(build_app, fn_services.env()) as (client, _):
        response = await client.post("/", headers=headers, content=body)
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200 and ce_of(response)["jobid"] == job_id
    assert response.json()["result"] == {"words": 3, "lines": 2, "characters": 13}
    assert fn_sink.posted == []
    for name in ("processor_jobs_processed_total", "processor_jobs_completed_total", "processor_jobs_failed_total",
                 "processor_jobs_validation_failed_total", "processor_job_processing_seconds_bucket"):  # fmt: skip
        assert name in metrics
