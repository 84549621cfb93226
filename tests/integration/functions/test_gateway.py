"""The gateway against real PostgreSQL and a real HTTP sink standing in for the broker ingress."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from functions.core.jobs import job_id_for_key
from functions.core.stores.postgres import JobRepository, make_pool
from functions.gateway.app import build_app
from functions.processor.app import build_app as build_processor

pytestmark = pytest.mark.integration

SUBMITTED = "dev.observatory.job.submitted"
TOKEN = "s3cret-token-for-tests"
HASH = {"type": "hash", "payload": {"data": "abc", "rounds": 2}}


def counts(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()
        keys = conn.execute("SELECT count(*) FROM submissions").fetchone()
    assert jobs is not None and keys is not None
    return int(jobs[0]), int(keys[0])


def job_row(database_url: str, job_id: str) -> dict[str, Any] | None:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()


def binary_headers(**extra: str) -> dict[str, str]:
    return {
        "content-type": "application/json", "ce-specversion": "1.0", "ce-type": SUBMITTED,
        "ce-source": "/tests/client", "ce-id": str(uuid.uuid4()), **extra,
    }  # fmt: skip


def structured(data: Any, **attrs: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "type": SUBMITTED, "source": "/tests/client", "id": str(uuid.uuid4()),
            "datacontenttype": "application/json", "data": data, **attrs}  # fmt: skip


def chunks(size: int) -> Any:
    async def gen() -> Any:
        for _ in range(size // 512 + 1):
            yield b"x" * 512

    return gen()


# (name, path, request kwargs, extra env, status, pointers expected in errors for 422)
BAD_INPUTS: list[tuple[str, str, dict[str, Any], dict[str, str], int, list[str]]] = [
    ("malformed json", "/jobs", {"content": b"{not json", "headers": {"content-type": "application/json"}},
     {}, 400, []),
    ("json array body", "/jobs", {"json": [HASH]}, {}, 422, [""]),
    ("text body on /jobs", "/jobs", {"content": b"hi", "headers": {"content-type": "text/plain"}}, {}, 415, []),
    ("no content type", "/jobs", {"content": json.dumps(HASH).encode()}, {}, 415, []),
    ("plain json on / without ce headers", "/", {"json": HASH}, {}, 415, []),
    ("binary event with text data", "/",
     {"content": b"hello", "headers": {**binary_headers(), "content-type": "text/plain"}}, {}, 415, []),
    ("declared body over the limit", "/jobs",
     {"content": b"{" + b" " * 2000 + b"}", "headers": {"content-type": "application/json"}},
     {"OBSERVATORY_MAX_BODY_BYTES": "1024"}, 413, []),
    ("chunked body over the limit", "/jobs",
     {"content": chunks(4096), "headers": {"content-type": "application/json"}},
     {"OBSERVATORY_MAX_BODY_BYTES": "1024"}, 413, []),
    ("bad content-length", "/jobs",
     {"content": b"{}", "headers": {"content-type": "application/json", "content-length": "x"}}, {}, 400, []),
    ("unknown job type", "/jobs", {"json": {"type": "teleport", "payload": {}}}, {}, 422, ["/type"]),
    ("payload out of range", "/jobs", {"json": {"type": "hash", "payload": {"data": "a", "rounds": 0}}},
     {}, 422, ["/payload/rounds"]),
    ("payload missing", "/jobs", {"json": {"type": "echo"}}, {}, 422, ["/payload"]),
    ("id not a uuid", "/jobs", {"json": {**HASH, "id": "job-1"}}, {}, 422, ["/id"]),
    ("sleep over its bound", "/jobs", {"json": {"type": "sleep", "payload": {"seconds": 31}}},
     {}, 422, ["/payload/seconds"]),
    ("structured event of another type", "/",
     {"content": json.dumps(structured(HASH, type="dev.observatory.job.completed")).encode(),
      "headers": {"content-type": "application/cloudevents+json"}}, {}, 422, ["/type"]),
    ("binary event with invalid payload", "/",
     {"content": json.dumps({"type": "echo", "payload": {"message": 5}}).encode(), "headers": binary_headers()},
     {}, 422, ["/data/payload/message"]),
    ("full data with a later generation", "/",
     {"content": json.dumps({"jobId": str(uuid.uuid4()), "type": "echo", "payload": {"message": "m"},
                             "submittedAt": "2024-01-01T00:00:00Z", "generation": 1}).encode(),
      "headers": binary_headers()}, {}, 422, ["/data/generation"]),
    ("batch with one bad event", "/",
     {"content": json.dumps([structured(HASH), structured(HASH),
                             structured({"type": "hash", "payload": {"data": "a", "rounds": 0}})]).encode(),
      "headers": {"content-type": "application/cloudevents-batch+json"}}, {}, 422, ["/2/data/payload/rounds"]),
    ("structured event without id", "/",
     {"content": json.dumps({k: v for k, v in structured(HASH).items() if k != "id"}).encode(),
      "headers": {"content-type": "application/cloudevents+json"}}, {}, 400, []),
    ("batch that is not an array", "/",
     {"content": b"{}", "headers": {"content-type": "application/cloudevents-batch+json"}}, {}, 400, []),
    ("empty batch", "/", {"content": b"[]", "headers": {"content-type": "application/cloudevents-batch+json"}},
     {}, 400, []),
    ("bad correlation id", "/jobs", {"json": HASH, "headers": {"x-correlation-id": "has space"}}, {}, 400, []),
    ("token missing", "/jobs", {"json": HASH}, {"OBSERVATORY_API_TOKEN": TOKEN}, 401, []),
    ("token wrong", "/jobs", {"json": HASH, "headers": {"authorization": "Bearer nope-nope-nope"}},
     {"OBSERVATORY_API_TOKEN": TOKEN}, 401, []),
    ("token on the wrong scheme", "/jobs", {"json": HASH, "headers": {"authorization": f"Basic {TOKEN}"}},
     {"OBSERVATORY_API_TOKEN": TOKEN}, 401, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "request_kwargs", "env", "status", "pointers"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
async def test_bad_input_is_refused_with_a_problem_and_changes_nothing(
    fn_services: Any, fn_sink: Any, fn_client: Any, path: str, request_kwargs: dict[str, Any],
    env: dict[str, str], status: int, pointers: list[str],
) -> None:  # fmt: skip
    fn_sink.reset()
    before = counts(fn_services.database_url)
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url, **env)) as (client, _):
        response = await client.post(path, **request_kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://observatory.dev/problems/")
    assert problem["title"] and problem["detail"]
    if status == 422:
        assert [e["pointer"] for e in problem["errors"]] == pointers
        assert all(e["message"] for e in problem["errors"])
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert fn_sink.posted == []
    assert counts(fn_services.database_url) == before


async def test_accepted_job_is_published_in_binary_mode_then_recorded_pending(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    fn_sink.reset()
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url, OBSERVATORY_API_TOKEN=TOKEN)) as (
        client,
        _,
    ):
        response = await client.post(
            "/jobs", json=HASH, headers={"authorization": f"Bearer {TOKEN}", "x-correlation-id": "corr-123"}
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "PENDING" and body["duplicate"] is False
    assert response.headers["x-correlation-id"] == "corr-123"
    [posted] = fn_sink.posted
    ce = posted.ce
    assert ce["type"] == SUBMITTED and ce["id"] == body["eventId"] and ce["source"] == "/observatory/gateway"
    assert ce["correlationid"] == "corr-123" and ce["jobid"] == body["jobId"] and ce["jobtype"] == "hash"
    assert ce["dataschema"] == "https://observatory.dev/schemas/events/job-submitted/1.0.0"
    data = json.loads(posted.body)
    assert data["jobId"] == body["jobId"] and data["payload"] == HASH["payload"] and data["generation"] == 0
    row = job_row(fn_services.database_url, body["jobId"])
    assert row is not None and row["status"] == "PENDING" and row["correlation_id"] == "corr-123"
    assert row["submit_event_id"] == body["eventId"]


async def test_correlation_id_is_generated_when_absent(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    fn_sink.reset()
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/jobs", json=HASH)
    assert response.status_code == 202
    generated = response.headers["x-correlation-id"]
    uuid.UUID(generated)
    [posted] = fn_sink.posted
    assert posted.ce["correlationid"] == generated
    row = job_row(fn_services.database_url, response.json()["jobId"])
    assert row is not None and row["correlation_id"] == generated


async def test_event_correlation_extension_is_kept(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    fn_sink.reset()
    headers = binary_headers(**{"ce-correlationid": "from-the-event"})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", content=json.dumps(HASH).encode(), headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["eventId"] == headers["ce-id"]
    [posted] = fn_sink.posted
    assert posted.ce["correlationid"] == "from-the-event"
    assert posted.ce["source"] == "/tests/client" and posted.ce["id"] == headers["ce-id"]


@pytest.mark.parametrize("sink_status", [503, 500, None], ids=["503", "500", "unreachable"])
async def test_broker_down_answers_503_with_retry_after_and_records_nothing(
    fn_services: Any, fn_sink: Any, fn_client: Any, sink_status: int | None
) -> None:
    fn_sink.reset(sink_status or 202)
    url = fn_sink.url if sink_status else "http://127.0.0.1:9/"
    job_id = str(uuid.uuid4())
    before = counts(fn_services.database_url)
    async with fn_client(build_app, fn_services.env(K_SINK=url)) as (client, _):
        response = await client.post(
            "/jobs", json={**HASH, "id": job_id}, headers={"idempotency-key": job_id}
        )
    fn_sink.reset()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert job_row(fn_services.database_url, job_id) is None
    assert counts(fn_services.database_url) == before


async def test_same_job_id_twice_publishes_once(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    fn_sink.reset()
    job_id = str(uuid.uuid4())
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        first = await client.post("/jobs", json={**HASH, "id": job_id})
        second = await client.post("/jobs", json={**HASH, "id": job_id.upper()})
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["jobId"] == second.json()["jobId"] == job_id
    assert second.json()["duplicate"] is True and second.json()["eventId"] == first.json()["eventId"]
    assert len(fn_sink.posted) == 1


async def test_same_idempotency_key_twice_publishes_once(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    fn_sink.reset()
    key = f"key-{uuid.uuid4()}"
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        first = await client.post("/jobs", json=HASH, headers={"idempotency-key": key})
        # Even a different body under the same key answers with the first job.
        second = await client.post("/jobs", json={"type": "echo", "payload": {"message": "x"}},
                                   headers={"idempotency-key": key})  # fmt: skip
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["jobId"] == second.json()["jobId"] == job_id_for_key(key)
    assert second.json()["duplicate"] is True
    assert len(fn_sink.posted) == 1


async def test_same_cloudevent_twice_names_the_same_job(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    fn_sink.reset()
    event = structured({"type": "echo", "payload": {"message": "hi"}})
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        answers = [
            await client.post(
                "/",
                content=json.dumps(event).encode(),
                headers={"content-type": "application/cloudevents+json"},
            )
            for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [202, 200]
    assert answers[0].json()["jobId"] == answers[1].json()["jobId"]
    assert answers[0].json()["eventId"] == event["id"]
    assert len(fn_sink.posted) == 1


async def test_full_submitted_data_keeps_its_job_id(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    fn_sink.reset()
    job_id = str(uuid.uuid4())
    data = {"jobId": job_id, "type": "wordcount", "payload": {"text": "a b"},
            "submittedAt": "2024-05-01T10:00:00Z", "generation": 0}  # fmt: skip
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post("/", content=json.dumps(data).encode(), headers=binary_headers())
    assert response.status_code == 202, response.text
    assert response.json()["jobId"] == job_id
    [posted] = fn_sink.posted
    assert json.loads(posted.body) == data


async def test_batch_publishes_every_event_and_answers_a_list(
    fn_services: Any, fn_sink: Any, fn_client: Any
) -> None:
    fn_sink.reset()
    events = [structured(HASH), structured({"type": "echo", "payload": {"message": "m"}})]
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        response = await client.post(
            "/",
            content=json.dumps(events).encode(),
            headers={"content-type": "application/cloudevents-batch+json"},
        )
    assert response.status_code == 202, response.text
    answers = response.json()
    assert [a["eventId"] for a in answers] == [e["id"] for e in events]
    assert len({a["jobId"] for a in answers}) == 2
    assert [p.ce["id"] for p in fn_sink.posted] == [e["id"] for e in events]
    for answer in answers:
        row = job_row(fn_services.database_url, answer["jobId"])
        assert row is not None and row["status"] == "PENDING"


async def test_health_metrics_and_openapi(fn_services: Any, fn_sink: Any, fn_client: Any) -> None:
    async with fn_client(build_app, fn_services.env(K_SINK=fn_sink.url)) as (client, _):
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        openapi = await client.get("/openapi.json")
        await client.post("/jobs", content=b"{", headers={"content-type": "application/json"})
        metrics = (await client.get("/metrics")).text
    assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": True, "sink": True}
    assert openapi.status_code == 200 and "/jobs" in openapi.json()["paths"]
    for name in (
        "gateway_jobs_submitted_total",
        "gateway_jobs_accepted_total",
        "http_request_duration_seconds",
    ):
        assert name in metrics
    assert 'gateway_jobs_rejected_total{reason="malformed"}' in metrics


# -- the gateway racing the processor ------------------------------------------------------------------------

# What happens to a published event before the broker confirms it: (headers, body) -> nothing.
OnEvent = Callable[[dict[str, str], bytes], Awaitable[None]]


@contextlib.asynccontextmanager
async def acting_sink(on_event: OnEvent) -> AsyncIterator[str]:
    """A broker ingress on a free port that acts on each event (in this test's event loop) before its 202."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        await on_event({k.lower(): v for k, v in request.headers.items()}, await request.body())
        await Response(status_code=202)(scope, receive, send)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                pytest.fail(f"the acting sink did not start: {task.exception()!r}")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def repository(database_url: str) -> AsyncIterator[JobRepository]:
    pool = make_pool(database_url, max_size=2)
    await pool.open(wait=True)
    try:
        yield JobRepository(pool)
    finally:
        await pool.close()


async def test_job_claimed_by_the_processor_before_it_is_recorded_is_not_a_duplicate(
    fn_services: Any, fn_client: Any
) -> None:
    claims: list[bool] = []
    async with repository(fn_services.database_url) as repo:

        async def claim_it(headers: dict[str, str], body: bytes) -> None:
            data = json.loads(body)
            claim = await repo.claim(data["jobId"], data["type"], data["payload"],
                                     correlation_id=headers.get("ce-correlationid"), event_id=headers["ce-id"],
                                     lease_seconds=30)  # fmt: skip
            claims.append(claim.won)

        async with (
            acting_sink(claim_it) as url,
            fn_client(build_app, fn_services.env(K_SINK=url)) as (client, _),
        ):
            response = await client.post("/jobs", json=HASH)
    assert claims == [True]
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False
    row = job_row(fn_services.database_url, body["jobId"])
    assert row is not None and row["status"] == "EXECUTING" and row["submit_event_id"] == body["eventId"]


async def test_job_the_processor_finished_before_it_is_recorded_is_not_a_duplicate(
    fn_services: Any, fn_client: Any
) -> None:
    replies: list[httpx.Response] = []
    async with fn_client(build_processor, fn_services.env()) as (processor, _):

        async def run_it(headers: dict[str, str], body: bytes) -> None:
            replies.append(await processor.post("/", headers=headers, content=body))

        async with (
            acting_sink(run_it) as url,
            fn_client(build_app, fn_services.env(K_SINK=url)) as (client, _),
        ):
            response = await client.post(
                "/", content=json.dumps({"type": "echo", "payload": {"message": "fast"}}).encode(),
                headers=binary_headers(),
            )  # fmt: skip
    [reply] = replies
    assert reply.status_code == 200 and reply.headers["ce-type"] == "dev.observatory.job.completed"
    assert response.status_code == 202, response.text
    assert response.json()["duplicate"] is False
    row = job_row(fn_services.database_url, response.json()["jobId"])
    assert row is not None and row["status"] == "COMPLETED"


async def test_job_an_earlier_submission_recorded_during_the_publish_is_a_duplicate(
    fn_services: Any, fn_client: Any
) -> None:
    async with repository(fn_services.database_url) as repo:

        async def record_and_claim(headers: dict[str, str], body: bytes) -> None:
            # Another gateway recorded the same job first, and the processor has picked it up since.
            data = json.loads(body)
            assert await repo.record_pending(
                data["jobId"], data["type"], data["payload"], None, headers["ce-id"]
            )
            claim = await repo.claim(data["jobId"], data["type"], data["payload"], correlation_id=None,
                                     event_id=headers["ce-id"], lease_seconds=30)  # fmt: skip
            assert claim.won

        async with (
            acting_sink(record_and_claim) as url,
            fn_client(build_app, fn_services.env(K_SINK=url)) as (
                client,
                _,
            ),
        ):
            response = await client.post("/jobs", json=HASH)
    assert response.status_code == 200, response.text
    assert response.json()["duplicate"] is True
