"""POST /dead-letters/{id}/replay against real stores and a real recording HTTP sink."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from readmodel_fixtures import (
    BASE_TIME,
    TOKEN,
    Stores,
    client_for,
    insert_job,
    running_sink,
    stores_fixture,  # noqa: F401 - the stores fixture
)

from functions.core.jobs import EventType
from functions.readmodel.app import build_app

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SUBMITTED_SCHEMA = "https://observatory.dev/schemas/events/job-submitted/1.0.0"


def dead_letter(stores: Stores, job_id: str, payload: dict[str, Any] | None = None) -> tuple[str, str]:
    """A dead-lettered job.submitted as the broker hands it to the dead-letter sink; returns (_id, event id)."""
    event_id = str(uuid.uuid4())
    inserted = stores.dead_letters.insert_one({
        "source": "/observatory/gateway", "id": event_id, "type": EventType.SUBMITTED.value,
        "dataschema": SUBMITTED_SCHEMA, "jobid": job_id, "jobtype": "echo", "correlationid": "corr-r",
        "data": {"jobId": job_id, "type": "echo", "payload": payload or {"message": "again"},
                 "submittedAt": "2026-01-01T00:00:00Z", "generation": 0},
        "knativeerrorcode": 500, "receivedAt": BASE_TIME + timedelta(minutes=1),
    })  # fmt: skip
    return str(inserted.inserted_id), event_id


def generation(stores: Stores, job_id: str) -> tuple[str, int]:
    (row,) = stores.sql("SELECT status, generation FROM jobs WHERE id = %s", (job_id,))
    return str(row[0]), int(row[1])


async def test_replay_needs_the_token(stores: Stores) -> None:
    job = insert_job(stores, status="DEAD_LETTERED")
    letter, _ = dead_letter(stores, job)
    async with (
        running_sink() as sink,
        client_for(build_app(stores.env(OBSERVATORY_API_TOKEN=TOKEN, K_SINK=sink.url))) as client,
    ):
        missing = await client.post(f"/dead-letters/{letter}/replay")
        wrong = await client.post(
            f"/dead-letters/{letter}/replay", headers={"Authorization": "Bearer wrong-token-x"}
        )
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert sink.received == []
    assert generation(stores, job) == ("DEAD_LETTERED", 0)


async def test_completed_job_is_refused_without_force(stores: Stores) -> None:
    job = insert_job(stores, status="COMPLETED")
    letter, _ = dead_letter(stores, job)
    async with (
        running_sink() as sink,
        client_for(build_app(stores.env(OBSERVATORY_API_TOKEN=TOKEN, K_SINK=sink.url))) as client,
    ):
        refused = await client.post(f"/dead-letters/{letter}/replay", headers=AUTH)
        assert refused.status_code == 409
        assert "force=true" in refused.json()["detail"]
        assert sink.received == []
        assert generation(stores, job) == ("COMPLETED", 0)
        forced = await client.post(f"/dead-letters/{letter}/replay", params={"force": "true"}, headers=AUTH)
    assert forced.status_code == 202, forced.text
    assert generation(stores, job) == ("PENDING", 1)
    assert len(sink.received) == 1


async def test_replay_publishes_the_next_generation_and_records_it(stores: Stores) -> None:
    job = insert_job(stores, status="DEAD_LETTERED")
    letter, event_id = dead_letter(stores, job, {"message": "replay me"})
    async with (
        running_sink() as sink,
        client_for(build_app(stores.env(OBSERVATORY_API_TOKEN=TOKEN, K_SINK=sink.url))) as client,
    ):
        # by the dead-lettered event's id this time (the _id works as well, see the other tests)
        response = await client.post(f"/dead-letters/{event_id}/replay", headers=AUTH)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["jobId"] == job and body["generation"] == 1 and body["deadLetterId"] == letter
    assert generation(stores, job) == ("PENDING", 1)
    (published,) = sink.received
    assert published["type"] == EventType.SUBMITTED.value
    assert published["source"] == "/observatory/readmodel"
    assert published["id"] == body["eventId"]
    assert published["jobid"] == job and published["correlationid"] == "corr-r"
    assert published["dataschema"] == SUBMITTED_SCHEMA
    assert published["data"]["generation"] == 1
    assert published["data"]["payload"] == {"message": "replay me"}
    audit = stores.events.find_one({"jobid": job, "type": "dev.observatory.job.replayed"})
    assert audit is not None and audit["source"] == "/observatory/readmodel"
    assert audit["data"]["deadLetterId"] == letter and audit["data"]["generation"] == 1
    marked = stores.dead_letters.find_one({"id": event_id})
    assert marked is not None and marked["replayCount"] == 1 and marked["replayedAt"] is not None


async def test_sink_down_changes_nothing(stores: Stores) -> None:
    job = insert_job(stores, status="DEAD_LETTERED")
    letter, _ = dead_letter(stores, job)
    async with (
        running_sink(status=503) as sink,
        client_for(build_app(stores.env(OBSERVATORY_API_TOKEN=TOKEN, K_SINK=sink.url))) as client,
    ):
        response = await client.post(f"/dead-letters/{letter}/replay", headers=AUTH)
    assert response.status_code == 503
    assert generation(stores, job) == ("DEAD_LETTERED", 0)
    assert stores.events.count_documents({"jobid": job}) == 0
    marked = stores.dead_letters.find_one({"jobid": job})
    assert marked is not None and "replayedAt" not in marked


async def test_payload_that_no_longer_validates_is_422_with_pointers(stores: Stores) -> None:
    job = insert_job(stores, status="DEAD_LETTERED")
    letter, _ = dead_letter(stores, job, {"message": "x", "unexpected": True})
    async with (
        running_sink() as sink,
        client_for(build_app(stores.env(OBSERVATORY_API_TOKEN=TOKEN, K_SINK=sink.url))) as client,
    ):
        response = await client.post(f"/dead-letters/{letter}/replay", headers=AUTH)
    assert response.status_code == 422, response.text
    assert "/data/payload/unexpected" in [e["pointer"] for e in response.json()["errors"]]
    assert sink.received == []
    assert generation(stores, job) == ("DEAD_LETTERED", 0)


async def test_unknown_dead_letter_is_404(stores: Stores) -> None:
    async with client_for(build_app(stores.env(OBSERVATORY_API_TOKEN=TOKEN))) as client:
        response = await client.post("/dead-letters/0123456789abcdef01234567/replay", headers=AUTH)
    assert response.status_code == 404
