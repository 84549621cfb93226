"""The processor against real PostgreSQL and MongoDB, with a real HTTP sink for job.started."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pymongo
import pytest

import functions.processor.job_types.echo as echo_type
import functions.processor.job_types.sleep as sleep_type
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


def lease_left_s(database_url: str, job_id: str) -> float:
    """Seconds of lease left by PostgreSQL's clock (negative once it lapsed)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM lease_until - now()) FROM jobs WHERE id = %s", (job_id,)
        ).fetchone()
    assert row is not None and row[0] is not None
    return float(row[0])


async def wait_until(what: str, probe: Any, deadline_s: float = 30.0) -> None:
    """Poll a condition on observable state; fail naming it at the deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not probe():
        if loop.time() > end:
            pytest.fail(f"{what}: not reached within {deadline_s:g} s")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def repository(database_url: str) -> AsyncIterator[JobRepository]:
    pool = make_pool(database_url, max_size=2)
    await pool.open(wait=True)
    try:
        yield JobRepository(pool)
    finally:
        await pool.close()


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


@pytest.fixture
def sleep_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Counts executions of the sleep handler."""
    runs: list[dict[str, Any]] = []
    original = sleep_type.run

    async def counting(payload: dict[str, Any]) -> dict[str, Any]:
        runs.append(payload)
        return await original(payload)

    monkeypatch.setattr(sleep_type, "run", counting)
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
    # The deliveries that lost the claim waited for the winner and re-sent its reply.
    assert [ce_of(a)["id"] for a in answers] == [f"{job_id}.completed.0"] * 4
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


# -- the short, renewed lease ------------------------------------------------------------------------------

SHORT_LEASE = {"PROCESSOR_LEASE_SECONDS": "1"}


async def test_renew_lease_holds_only_a_running_job_of_its_generation(fn_services: Any) -> None:
    job_id = str(uuid.uuid4())
    async with repository(fn_services.database_url) as repo:
        assert not await repo.renew_lease(job_id, 0, 5)  # no such job
        assert await repo.record_pending(job_id, "echo", {"message": "m"}, None, "e1")
        assert not await repo.renew_lease(job_id, 0, 5)  # PENDING: nobody holds it
        claim = await repo.claim(job_id, "echo", {"message": "m"}, correlation_id=None, event_id="e1",
                                 lease_seconds=1)  # fmt: skip
        assert claim.won
        assert await repo.renew_lease(job_id, 0, 30)
        assert lease_left_s(fn_services.database_url, job_id) > 20
        assert await repo.renew_lease(job_id, 0, 1)  # a late, shorter renewal never shortens it
        assert lease_left_s(fn_services.database_url, job_id) > 20
        assert not await repo.renew_lease(job_id, 1, 30)  # another generation
        assert await repo.finish(job_id, "echo", JobStatus.COMPLETED, result={"message": "m"})
        assert not await repo.renew_lease(job_id, 0, 30)  # terminal: the renewer stops


async def test_delivery_during_a_live_lease_answers_503_and_runs_nothing(
    fn_services: Any, fn_sink: Any, fn_client: Any, echo_runs: list[dict[str, Any]]
) -> None:
    job_id, headers, body = submitted("echo", {"message": "held"})
    async with repository(fn_services.database_url) as repo:
        # Another instance holds the job under a lease that outlives the delivery's whole wait.
        claim = await repo.claim(job_id, "echo", {"message": "held"}, correlation_id=None,
                                 event_id=headers["ce-id"], lease_seconds=60)  # fmt: skip
        assert claim.won
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url, **SHORT_LEASE)) as (client, _):
        response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert echo_runs == []
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "EXECUTING" and row["attempts"] == 1


async def test_after_a_dead_instance_s_lease_lapses_the_redelivery_runs_the_job_once(
    fn_services: Any, fn_sink: Any, fn_client: Any, echo_runs: list[dict[str, Any]]
) -> None:
    fn_sink.reset()
    job_id, headers, body = submitted("echo", {"message": "orphan"})
    async with repository(fn_services.database_url) as repo:
        # An instance claimed the job with a short lease and died: nothing renews it.
        claim = await repo.claim(job_id, "echo", {"message": "orphan"}, correlation_id=None,
                                 event_id=headers["ce-id"], lease_seconds=1)  # fmt: skip
        assert claim.won
    env = fn_services.env(K_SINK=fn_sink.url, **SHORT_LEASE)
    async with fn_client(build_app, env) as (client, _):
        # Arrives while the dead lease is still live: waits it out, then claims and runs the job.
        first = await client.post("/", headers=headers, content=body)
        again = await client.post("/", headers=headers, content=body)
    for response in (first, again):
        assert response.status_code == 200, response.text
        assert ce_of(response)["id"] == f"{job_id}.completed.0"
        assert response.json()["result"] == {"message": "orphan"}
    assert len(echo_runs) == 1
    [started] = fn_sink.of_type("dev.observatory.job.started")
    assert json.loads(started.body)["attempt"] == 2
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "COMPLETED" and row["attempts"] == 2
    assert row["lease_until"] is None


async def test_renewal_keeps_a_long_job_from_being_stolen(
    fn_services: Any, fn_sink: Any, fn_client: Any, sleep_runs: list[dict[str, Any]]
) -> None:
    job_id, headers, body = submitted("sleep", {"seconds": 3})
    env = fn_services.env(K_SINK=fn_sink.url, **SHORT_LEASE)
    # Two apps, two pools: two processor instances sharing only PostgreSQL.
    async with fn_client(build_app, env) as (one, _), fn_client(build_app, env) as (two, _):
        running = asyncio.create_task(one.post("/", headers=headers, content=body))
        await wait_until("the first instance runs the job", lambda: len(sleep_runs) == 1)
        # The 1 s lease has lapsed twice over unless the first instance renews it.
        duplicate = await two.post("/", headers=headers, content=body)
        first = await running
        late = await two.post("/", headers=headers, content=body)
    assert duplicate.status_code == 503, duplicate.text
    assert first.status_code == 200 and ce_of(first)["id"] == f"{job_id}.completed.0"
    assert late.status_code == 200 and ce_of(late)["id"] == f"{job_id}.completed.0"
    assert len(sleep_runs) == 1
    row = job_row(fn_services.database_url, job_id)
    assert row is not None and row["status"] == "COMPLETED" and row["attempts"] == 1
