"""4. Read-model scaling: p50/p99 of /stats, /jobs?limit=50 and /jobs/{id}/timeline with a small and a large
store, and the large/small ratio.

Each size gets its own database, seeded before the runtime starts and never through the pipeline:
PostgreSQL with bulk ``INSERT … SELECT generate_series`` in chunks (the migration's secondary indexes are
dropped first and rebuilt from their own definitions afterwards, which is how bulk loads are done),
MongoDB with ``insert_many`` batches, Redis with the aggregate hashes /stats reads. Requests go straight
to the read-model instance (its port from the admin JSON), one at a time, so the figure is the read
model's own cost, not the router's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import redis
from pymongo import MongoClient

from tui.bench.isolation import Namespace, cleanup, new_namespace
from tui.bench.model import Context, ScenarioResult
from tui.bench.runtime import RuntimeProcess, service_entry
from tui.bench.stats import ratio, summarize, verdict

NAME = "readmodel"
TITLE = "Read-model scaling: small vs large store"
TARGET_RATIO = 1.5
EVENTS_PER_JOB = 3
CHUNK = 100_000
TYPES = ("echo", "hash", "sleep", "wordcount")

_SEED = """
INSERT INTO jobs (id, type, status, status_rank, payload, result, attempts, correlation_id, submit_event_id,
                  created_at, updated_at, started_at, finished_at)
SELECT gen_random_uuid(), (ARRAY['echo','hash','sleep','wordcount'])[1 + i %% 4], 'COMPLETED', 2,
       jsonb_build_object('message', 'seed ' || i), jsonb_build_object('ok', true), 1, md5(i::text),
       md5(i::text), t, t, t, t + interval '5 ms'
  FROM generate_series(%(lo)s::int, %(hi)s::int) AS i,
       LATERAL (SELECT now() - make_interval(secs => i) AS t) AS x
"""


def _seed_postgres(url: str, jobs: int, progress: Callable[[str], None]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        defs = [
            (str(r[0]), str(r[1]))
            for r in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'jobs' AND indexname <> 'jobs_pkey'"
            ).fetchall()
        ]
        for name, _ in defs:
            conn.execute(f'DROP INDEX "{name}"')
        for lo in range(1, jobs + 1, CHUNK):
            hi = min(lo + CHUNK - 1, jobs)
            conn.execute(_SEED, {"lo": lo, "hi": hi})
            progress(f"readmodel: PostgreSQL {hi:,}/{jobs:,} jobs")
        conn.execute("SET maintenance_work_mem = '256MB'")
        for name, ddl in defs:
            progress(f"readmodel: rebuilding index {name}")
            conn.execute(ddl.encode())
        conn.execute("ANALYZE jobs")


def _sample_ids(url: str, n: int) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id::text FROM jobs ORDER BY random() LIMIT %s", (n,)).fetchall()
    return [str(r[0]) for r in rows]


def _seed_mongo(ns: Namespace, timeline_ids: list[str], events: int, progress: Callable[[str], None]) -> None:
    """``events`` audit documents: three per sampled job (so its timeline is real), the rest spread on
    synthetic job ids so the collection has the intended size."""
    client: MongoClient[dict[str, Any]] = MongoClient(ns.mongodb_url)
    try:
        col = client[ns.mongodb_database]["job_events"]
        now = datetime.now(UTC)
        phases = ("submitted", "started", "completed")

        def docs_for(job_id: str, t: datetime) -> list[dict[str, Any]]:
            return [
                {"source": f"/observatory/{'gateway' if p == 'submitted' else 'processor'}", "id": f"{job_id}.{p}.0",
                 "type": f"dev.observatory.job.{p}", "jobid": job_id, "jobtype": "echo", "time": t + timedelta(milliseconds=i),
                 "receivedAt": t, "correlationid": job_id, "valid": True, "violations": [], "data": {"jobId": job_id}}
                for i, p in enumerate(phases)
            ]  # fmt: skip

        batch: list[dict[str, Any]] = []
        written = 0
        for job_id in timeline_ids:
            batch += docs_for(job_id, now)
        while written + len(batch) < events:
            batch += docs_for(str(uuid.uuid4()), now - timedelta(seconds=written))
            if len(batch) >= 3000:
                col.insert_many(batch, ordered=False)
                written += len(batch)
                batch = []
                progress(f"readmodel: MongoDB {written:,}/{events:,} events")
        if batch:
            col.insert_many(batch, ordered=False)
    finally:
        client.close()


def _seed_redis(ns: Namespace, jobs: int) -> None:
    r = redis.Redis.from_url(ns.redis_url)
    try:
        r.hset(f"{ns.redis_prefix}totals", mapping={"COMPLETED": jobs, "TOTAL": jobs})
        r.hset(f"{ns.redis_prefix}types", mapping={t: jobs // len(TYPES) for t in TYPES})
    finally:
        r.close()


def _measure(base: str, ids: list[str], n: int) -> dict[str, dict[str, Any]]:
    paths: dict[str, Callable[[int], str]] = {
        "/stats": lambda i: "/stats",
        "/jobs?limit=50": lambda i: "/jobs?limit=50",
        "/jobs/{id}/timeline": lambda i: f"/jobs/{ids[i % len(ids)]}/timeline",
    }
    out: dict[str, dict[str, Any]] = {}
    with httpx.Client(timeout=30) as http:
        for label, path in paths.items():
            for i in range(20):
                http.get(base + path(i))
            times, bad = [], 0
            for i in range(n):
                t = time.perf_counter()
                response = http.get(base + path(i))
                times.append(time.perf_counter() - t)
                bad += response.status_code != 200
            out[label] = {**summarize(times), "non_200": bad}
    return out


def _one_size(ctx: Context, label: str, jobs: int, events: int, requests: int) -> dict[str, dict[str, Any]]:
    ns = new_namespace(f"{NAME}{label}", ctx.environ, ctx.run_id)
    try:
        ns.migrate()
        started = time.perf_counter()
        _seed_postgres(ns.database_url, jobs, ctx.progress)
        ids = _sample_ids(ns.database_url, 100)
        _seed_mongo(ns, ids, events, ctx.progress)
        _seed_redis(ns, jobs)
        ctx.progress(
            f"readmodel: {label} store seeded in {time.perf_counter() - started:.0f}s; starting the runtime"
        )
        with RuntimeProcess(ns, module=ctx.runtime_module) as rt:
            instance = service_entry(rt.snapshot(), "readmodel")["instances"][0]
            ctx.progress(f"readmodel: {label}: {requests} requests per endpoint")
            return _measure(f"http://127.0.0.1:{instance['port']}", ids, requests)
    finally:
        for problem in cleanup(ns):
            ctx.progress(f"readmodel: cleanup: {problem}")


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    small, large = 1_000, int(ctx.pick(100_000, 1_000_000))
    event_cap = int(ctx.pick(6_000, 30_000))
    requests = int(ctx.pick(80, 500))
    sizes = {
        "small": (small, EVENTS_PER_JOB * small),
        "large": (large, min(EVENTS_PER_JOB * large, event_cap)),
    }
    result.conditions = {
        "sizes": {k: {"jobs": j, "events": e} for k, (j, e) in sizes.items()},
        "quick_mode": "1k vs 100k jobs (not 1M)" if ctx.quick else None,
        "events_note": f"audit events are {EVENTS_PER_JOB} per job up to a cap of {event_cap:,}: the MongoDB-wire "
        "server (SecantusDB) stores a few hundred indexed documents/s on this machine, so 3M events would take hours",
        "requests_per_endpoint": requests,
        "client": "one keep-alive client, sequential, 20 warm-up requests per endpoint, straight to the instance",
        "timeline_ids": "100 random seeded jobs, each with 3 audit events",
    }
    figures = {}
    for label, (jobs, events) in sizes.items():
        ctx.progress(f"readmodel: seeding the {label} store ({jobs:,} jobs, {events:,} events)")
        figures[label] = _one_size(ctx, label, jobs, events, requests)
    rows = []
    for endpoint in figures["small"]:
        s, big = figures["small"][endpoint], figures["large"][endpoint]
        p99_ratio = ratio(big["p99_ms"], s["p99_ms"])
        rows.append({"endpoint": endpoint, "small_p50_ms": s["p50_ms"], "small_p99_ms": s["p99_ms"],
                     "large_p50_ms": big["p50_ms"], "large_p99_ms": big["p99_ms"],
                     "p50_ratio": ratio(big["p50_ms"], s["p50_ms"]), "p99_ratio": p99_ratio,
                     "non_200": s["non_200"] + big["non_200"]})  # fmt: skip
        result.verdicts.append(verdict(f"{endpoint} p99 large/small", p99_ratio, at_most=TARGET_RATIO))
    result.tables["latency"] = rows
    return result
