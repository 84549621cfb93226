"""The read model's /jobs family, /stats, /alerts, /health and CORS against real stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from readmodel_fixtures import BASE_TIME, Stores, client_for, insert_job, stores_fixture  # noqa: F401 - the stores fixture

from functions.readmodel.app import build_app

pytestmark = pytest.mark.integration

TYPES = ("echo", "hash", "sleep")
STATUSES = ("PENDING", "EXECUTING", "COMPLETED", "FAILED", "DEAD_LETTERED")


@pytest.fixture(scope="module")
def seeded(stores: Stores) -> list[dict[str, Any]]:
    """53 jobs, one a minute; three share each created_at to exercise the id tie-break of the cursor."""
    rows = []
    for i in range(53):
        created = BASE_TIME + timedelta(minutes=i // 3)
        job_type, status = TYPES[i % 3], STATUSES[i % 5]
        payload = {"message": f"needle-{i}" if i % 10 == 0 else f"hay-{i}"}
        job_id = insert_job(stores, job_type=job_type, status=status, created_at=created, payload=payload)
        rows.append(
            {"id": job_id, "type": job_type, "status": status, "created": created, "payload": payload}
        )
    # newest first, ties broken by id descending (uuid order == PostgreSQL's uuid order for the text form)
    rows.sort(key=lambda r: (r["created"], uuid.UUID(r["id"]).bytes), reverse=True)
    return rows


@pytest.fixture
async def client(stores: Stores, seeded: list[dict[str, Any]]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app(stores.env())) as found:
        yield found


async def all_pages(client: httpx.AsyncClient, **query: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/jobs", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages


async def test_keyset_pages_have_no_gaps_or_duplicates_newest_first(
    client: httpx.AsyncClient, seeded: list[dict[str, Any]]
) -> None:
    pages = await all_pages(client, limit=7)
    assert [len(p) for p in pages] == [7] * 7 + [4]
    flat = [job for page in pages for job in page]
    assert flat == [r["id"] for r in seeded]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ({"status": "FAILED"}, lambda r: r["status"] == "FAILED"),
        ({"status": "completed"}, lambda r: r["status"] == "COMPLETED"),
        ({"type": "hash"}, lambda r: r["type"] == "hash"),
        ({"type": "hash", "status": "PENDING"}, lambda r: r["type"] == "hash" and r["status"] == "PENDING"),
        ({"since": "2026-01-01T00:05:00Z"}, lambda r: r["created"] >= BASE_TIME + timedelta(minutes=5)),
        ({"until": "2026-01-01T00:05:00Z"}, lambda r: r["created"] < BASE_TIME + timedelta(minutes=5)),
        ({"q": "needle"}, lambda r: r["payload"]["message"].startswith("needle")),
        ({"q": "needle-1"}, lambda r: r["payload"]["message"].startswith("needle-1")),
    ],
    ids=["status", "status-lowercase", "type", "type+status", "since", "until", "q", "q-prefix"],
)
async def test_filters(
    client: httpx.AsyncClient, seeded: list[dict[str, Any]], query: dict[str, str], keep: Any
) -> None:
    pages = await all_pages(client, limit=4, **query)
    expected = [r["id"] for r in seeded if keep(r)]
    assert expected, "the vector must select something"
    assert [job for page in pages for job in page] == expected


async def test_search_by_job_id_and_like_wildcards_are_literal(
    client: httpx.AsyncClient, seeded: list[dict[str, Any]]
) -> None:
    target = seeded[5]["id"]
    body = (await client.get("/jobs", params={"q": target[:13]})).json()
    assert target in [item["id"] for item in body["items"]]
    assert (await client.get("/jobs", params={"q": "%%%"})).json()["items"] == []


async def test_item_shape_is_camel_case(client: httpx.AsyncClient, seeded: list[dict[str, Any]]) -> None:
    item = (await client.get("/jobs", params={"limit": 1})).json()["items"][0]
    assert set(item) >= {"id", "type", "status", "createdAt", "updatedAt", "correlationId", "generation"}
    assert item["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "DONE"}, "status"),
        ({"type": "Echo!"}, "type"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"q": "ab"}, "q"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"stauts": "FAILED"}, "stauts"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(
    client: httpx.AsyncClient, query: dict[str, str], parameter: str
) -> None:
    response = await client.get("/jobs", params=query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == [f"/query/{parameter}"]


async def test_recent_is_the_ten_newest(client: httpx.AsyncClient, seeded: list[dict[str, Any]]) -> None:
    body = (await client.get("/jobs/recent")).json()
    assert [item["id"] for item in body["items"]] == [r["id"] for r in seeded[:10]]


async def test_one_job_unknown_and_malformed(client: httpx.AsyncClient, seeded: list[dict[str, Any]]) -> None:
    found = await client.get(f"/jobs/{seeded[0]['id']}")
    assert found.status_code == 200
    assert found.json()["payload"] == seeded[0]["payload"]
    missing = await client.get(f"/jobs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    malformed = await client.get("/jobs/not-a-uuid")
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["pointer"] == "/path/id"


async def test_stats_reads_redis_aggregates(client: httpx.AsyncClient, stores: Stores) -> None:
    import time

    from functions.core.jobs import EventType
    from functions.core.stores.redis import Aggregates

    aggregates = Aggregates.connect(stores.redis_url, stores.prefix)
    job = str(uuid.uuid4())
    now_ms = int(time.time() * 1000)
    for event_type, offset in ((EventType.SUBMITTED, 0), (EventType.COMPLETED, 40)):
        await aggregates.apply(source="/t", event_id=f"{job}.{event_type.phase}", event_type=event_type,
                               job_id=job, job_type="echo", time_ms=now_ms + offset)  # fmt: skip
    await aggregates.close()
    body = (await client.get("/stats")).json()
    assert body["totals"] == {
        "PENDING": 0,
        "EXECUTING": 0,
        "COMPLETED": 1,
        "FAILED": 0,
        "DEAD_LETTERED": 0,
        "total": 1,
    }
    assert body["byType"] == {"echo": 1}
    assert len(body["throughput"]["perSecond"]) == 60
    assert body["throughput"]["lastMinute"] == 1
    assert body["latencyMs"]["p50"] == 50.0  # 40 ms falls in the 50 ms bucket
    assert body["lastEventTime"].endswith("Z")
    assert body["deadLetters"] == 0
    assert "runtime" not in body


async def test_alerts_without_a_source(client: httpx.AsyncClient) -> None:
    body = (await client.get("/alerts")).json()
    assert body["source"] is None
    assert body["alerts"] == []
    assert "ALERTMANAGER_URL" in body["note"]


async def test_alerts_from_an_unreachable_alertmanager(stores: Stores) -> None:
    from readmodel_fixtures import free_port

    app = build_app(stores.env(ALERTMANAGER_URL=f"http://127.0.0.1:{free_port()}"))
    async with client_for(app) as client:
        response = await client.get("/alerts")
    assert response.status_code == 200
    assert response.json()["alerts"] == []
    assert "unreachable" in response.json()["error"]


async def test_health_and_openapi(client: httpx.AsyncClient) -> None:
    health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert health["checks"] == {"postgresql": True, "mongodb": True, "redis": True}
    document = (await client.get("/openapi.json")).json()
    assert "/jobs/{id}/timeline" in document["paths"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:8081", True),
        ("http://127.0.0.1:5173", True),
        ("null", True),
        ("http://localhost.evil.example:8081", False),
        ("https://example.com", False),
    ],
)
async def test_cors(client: httpx.AsyncClient, origin: str, allowed: bool) -> None:
    response = await client.get("/jobs/recent", headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers.get("access-control-allow-origin") == (origin if allowed else None)
    preflight = await client.options(
        "/dead-letters/x/replay",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip
    assert preflight.status_code == (204 if allowed else 403)
    assert preflight.headers.get("access-control-allow-origin") == (origin if allowed else None)
    if allowed:
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
