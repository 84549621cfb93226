"""/jobs/{id}/timeline merges PostgreSQL, the audit trail, Redis and dead letters; /events filters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from bson import ObjectId
from readmodel_fixtures import BASE_TIME, Stores, client_for, event_doc, insert_job, stores_fixture  # noqa: F401 - the stores fixture

from functions.core.jobs import EventType
from functions.core.stores.redis import Aggregates
from functions.readmodel.app import build_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(stores: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app(stores.env())) as found:
        yield found


async def count(stores: Stores, job_id: str, *phases: EventType) -> None:
    aggregates = Aggregates.connect(stores.redis_url, stores.prefix)
    for i, event_type in enumerate(phases):
        await aggregates.apply(source="/t", event_id=f"{job_id}.{event_type.phase}", event_type=event_type,
                               job_id=job_id, job_type="echo", time_ms=int(BASE_TIME.timestamp() * 1000) + i)  # fmt: skip
    await aggregates.close()


async def test_consistent_job_merges_all_stores_in_time_order(
    client: httpx.AsyncClient, stores: Stores
) -> None:
    job = insert_job(stores, status="COMPLETED", created_at=BASE_TIME)
    stores.events.insert_many([
        event_doc(job, "submitted", BASE_TIME, data={"jobId": job, "type": "echo", "generation": 0}),
        event_doc(job, "started", BASE_TIME + timedelta(seconds=1)),
        event_doc(job, "completed", BASE_TIME + timedelta(seconds=2)),
    ])  # fmt: skip
    await count(stores, job, EventType.SUBMITTED, EventType.STARTED, EventType.COMPLETED)
    body = (await client.get(f"/jobs/{job}/timeline")).json()
    assert body["verdict"]["consistent"] is True, body["verdict"]
    assert body["status"] == "COMPLETED"
    stores_seen = {e["store"] for e in body["entries"]}
    assert stores_seen == {"postgresql", "audit", "redis"}
    times = [e["time"] for e in body["entries"]]
    assert times == sorted(times)


async def test_completed_in_postgresql_without_completed_event_is_inconsistent(
    client: httpx.AsyncClient,
    stores: Stores,
) -> None:
    job = insert_job(stores, status="COMPLETED", created_at=BASE_TIME)
    stores.events.insert_one(event_doc(job, "submitted", BASE_TIME))
    await count(stores, job, EventType.SUBMITTED)
    verdict = (await client.get(f"/jobs/{job}/timeline")).json()["verdict"]
    assert verdict["consistent"] is False
    messages = [f["message"] for f in verdict["findings"] if f["severity"] == "error"]
    assert "COMPLETED in PostgreSQL but no completed event in the audit trail" in messages
    assert "Redis shows PENDING but PostgreSQL says COMPLETED" in messages


async def test_dead_letter_appears_in_the_timeline(client: httpx.AsyncClient, stores: Stores) -> None:
    job = insert_job(stores, status="DEAD_LETTERED", created_at=BASE_TIME)
    stores.dead_letters.insert_one({
        "source": "/observatory/gateway", "id": f"{job}-sub", "type": EventType.SUBMITTED.value, "jobid": job,
        "data": {"jobId": job}, "receivedAt": BASE_TIME + timedelta(seconds=5),
    })  # fmt: skip
    body = (await client.get(f"/jobs/{job}/timeline")).json()
    assert "deadletters" in {e["store"] for e in body["entries"]}
    assert not any("no dead letter" in f["message"] for f in body["verdict"]["findings"])


async def test_timeline_unknown_and_malformed(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/jobs/{uuid.uuid4()}/timeline")).status_code == 404
    assert (await client.get("/jobs/zzz/timeline")).status_code == 400


async def test_events_newest_first_with_filters_and_pages(client: httpx.AsyncClient, stores: Stores) -> None:
    job, other = str(uuid.uuid4()), str(uuid.uuid4())
    docs = [event_doc(job, phase, BASE_TIME + timedelta(seconds=i)) for i, phase in
            enumerate(["submitted", "started", "failed", "submitted", "started", "completed"])]  # fmt: skip
    docs.append(event_doc(other, "submitted", BASE_TIME + timedelta(seconds=3)))  # same time as docs[3]
    stores.events.insert_many(docs)
    body = (await client.get("/events", params={"jobId": job})).json()
    assert [e["type"].rsplit(".", 1)[1] for e in body["items"]] == [
        "completed", "started", "submitted", "failed", "started", "submitted"
    ]  # fmt: skip
    assert all(e["jobId"] == job for e in body["items"])
    started = (
        await client.get("/events", params={"jobId": job, "type": "dev.observatory.job.started"})
    ).json()
    assert [e["time"] for e in started["items"]] == ["2026-01-01T00:00:04.000Z", "2026-01-01T00:00:01.000Z"]

    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/events", params=params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    mine = {d["id"] for d in docs}
    assert mine <= set(seen)
    assert len(seen) == len(set(seen))


async def test_events_bad_parameters(client: httpx.AsyncClient) -> None:
    response = await client.get("/events", params={"jobId": "nope"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/query/jobId"
    bad_cursor = await client.get("/events", params={"cursor": "eyJ4IjoxfQ"})
    assert bad_cursor.status_code == 400


async def test_dead_letters_list(client: httpx.AsyncClient, stores: Stores) -> None:
    job = str(uuid.uuid4())
    inserted = stores.dead_letters.insert_one({
        "source": "/observatory/gateway", "id": f"{job}-x", "type": EventType.SUBMITTED.value, "jobid": job,
        "data": {"jobId": job}, "receivedAt": BASE_TIME + timedelta(days=1), "knativeerrorcode": 500,
    })  # fmt: skip
    body = (await client.get("/dead-letters", params={"jobId": job})).json()
    assert len(body["items"]) == 1
    item = body["items"][0]
    assert item["id"] == str(inserted.inserted_id) and ObjectId.is_valid(item["id"])
    assert item["eventId"] == f"{job}-x"
    assert item["jobId"] == job
    assert item["replayCount"] == 0
    assert item["receivedAt"] == "2026-01-02T00:00:00.000Z"
