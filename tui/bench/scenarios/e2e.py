"""2. End to end: sustained jobs/s from submit until COMPLETED in PostgreSQL (audited in MongoDB, counted in
Redis, every job accounted for), and latency at a fixed 100 jobs/s, against a Celery baseline in the same run.

Both systems get the same job (``hash``, sha256 x 1000 rounds, the processor's own handler module) and the
same client discipline: submitters keep at most ``BACKLOG`` jobs outstanding (submitted, not yet
COMPLETED), so the figure is the completion rate the system sustains, not the size of a queue. Latency is
PostgreSQL's ``finished_at`` minus the client's send time (one machine, one clock).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from pymongo import MongoClient

from functions.core.migrations import migrate
from tui.bench.celery_app import TASK
from tui.bench.celery_worker import CeleryWorker
from tui.bench.isolation import Namespace, cleanup, new_namespace, with_database
from tui.bench.load import JobSpec, LoadPlan, run_load, start_load
from tui.bench.model import Context, ScenarioResult
from tui.bench.runtime import RuntimeProcess
from tui.bench.stats import completed_within, rate, ratio, summarize, verdict

NAME = "e2e"
TITLE = "End to end: submit -> COMPLETED (PostgreSQL) + audit (MongoDB) + count (Redis), vs Celery"
JOB = JobSpec("hash", {"data": "observatory", "rounds": 1000})
BACKLOG = 400
FIXED_RATE = 100.0
COMPLETED_EVENT = "dev.observatory.job.completed"


class Tracker:
    """Completion facts from PostgreSQL (one autocommit connection)."""

    def __init__(self, database_url: str) -> None:
        self.conn = psycopg.connect(database_url, autocommit=True)

    def completed(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM jobs WHERE status = 'COMPLETED'").fetchone()
        return int(row[0]) if row else 0

    def finished(self, ids: list[str]) -> dict[str, float]:
        rows = self.conn.execute(
            "SELECT id::text, extract(epoch FROM finished_at)::float8 FROM jobs "
            "WHERE id = ANY(%s::uuid[]) AND status = 'COMPLETED'",
            (ids,),
        ).fetchall()
        return {r[0]: float(r[1]) for r in rows}

    def statuses(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def wait_completed(self, ids: list[str], timeout_s: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout_s
        while True:
            done = self.finished(ids)
            if len(done) >= len(ids) or time.monotonic() > deadline:
                return done
            time.sleep(0.5)

    def close(self) -> None:
        self.conn.close()


def _window_rate(done: dict[str, float], start: float, end: float) -> float | None:
    return rate(completed_within(done.values(), start, end), end - start)


def _latencies(sent_at: dict[str, float], done: dict[str, float]) -> list[float]:
    return [done[i] - at for i, at in sent_at.items() if i in done]


def _pipeline(
    ctx: Context, ns: Namespace, duration: float, warm: float, lat_s: float, drain: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"system": "observatory (knlocal)"}
    account_s = drain * 2.5  # the backlog of the fixed-rate phase may still be draining
    tracker = Tracker(ns.database_url)
    try:
        with RuntimeProcess(ns, module=ctx.runtime_module) as rt:
            url = rt.service_url("gateway") + "/jobs"
            ctx.progress("e2e: observatory warm-up (50 jobs)")
            warmup = run_load(LoadPlan(url, JOB, concurrency=4, count=50))
            tracker.wait_completed([s.job_id for s in warmup.accepted()], 60)

            ctx.progress(f"e2e: observatory sustained load for {duration:.0f}s (backlog <= {BACKLOG})")
            t0 = time.time()
            base = tracker.completed()
            load = start_load(LoadPlan(url, JOB, concurrency=16, duration_s=duration), backlog_limit=True)
            while time.time() < t0 + duration + 1:
                load.allow(tracker.completed() - base + BACKLOG)
                time.sleep(0.2)
            result = load.result()
            ids = [s.job_id for s in result.accepted()]
            done = tracker.wait_completed(ids, drain)
            out["throughput_jobs_per_s"] = _window_rate(done, t0 + warm, t0 + duration)
            out["submitted"] = len(result.sent)
            out["accepted"] = len(ids)

            ctx.progress(f"e2e: observatory latency at {FIXED_RATE:.0f} jobs/s for {lat_s:.0f}s")
            fixed = run_load(LoadPlan(url, JOB, concurrency=64, duration_s=lat_s, rate_per_s=FIXED_RATE))
            sent_at = {s.job_id: s.at for s in fixed.accepted()}
            out["fixed_rate_accepted"] = len(sent_at)
            out["fixed_rate_refused"] = len(fixed.sent) - len(sent_at)  # non-202 or no answer within 60s
            lat_done = tracker.wait_completed(list(sent_at), drain)
            out.update(
                {f"{k}": v for k, v in summarize(_latencies(sent_at, lat_done)).items() if k != "max_ms"}
            )

            all_ids = ids + list(sent_at) + [s.job_id for s in warmup.accepted()]
            ctx.progress("e2e: observatory accounting (PostgreSQL, MongoDB, Redis)")
            out["accounting"] = _account(ns, tracker, len(all_ids), account_s)
    finally:
        tracker.close()
    return out


def _account(ns: Namespace, tracker: Tracker, expected: int, timeout_s: float = 90.0) -> dict[str, Any]:
    """Every accepted job COMPLETED in PostgreSQL, with a completed event in MongoDB and a count in Redis."""
    mongo: MongoClient[dict[str, Any]] = MongoClient(ns.mongodb_url, serverSelectionTimeoutMS=3000)
    r = redis.Redis.from_url(ns.redis_url, decode_responses=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            pg = tracker.completed()
            audited = mongo[ns.mongodb_database]["job_events"].count_documents({"type": COMPLETED_EVENT})
            counted = int(str(r.hget(f"{ns.redis_prefix}totals", "COMPLETED") or 0))
            if min(pg, audited, counted) >= expected or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        return {
            "accepted": expected,
            "postgres_completed": pg,
            "mongodb_completed_events": audited,
            "redis_completed": counted,
            "postgres_statuses": tracker.statuses(),
            "all_accounted": pg == audited == counted == expected,
        }
    finally:
        mongo.close()
        r.close()


def _celery(
    ctx: Context, ns: Namespace, db_url: str, duration: float, warm: float, lat_s: float, drain: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"system": "celery 2 x prefork"}
    tracker = Tracker(db_url)
    try:
        with CeleryWorker(ns.rabbitmq_url, db_url, f"{ns.broker_uid}-celery") as worker:
            app = worker.sender()

            def send(sent_at: dict[str, float]) -> None:
                job_id = str(uuid.uuid4())
                sent_at[job_id] = time.time()
                app.send_task(TASK, args=[job_id, JOB.job_type, JOB.payload], queue=worker.queue)

            ctx.progress("e2e: celery warm-up (50 jobs)")
            warm_ids: dict[str, float] = {}
            for _ in range(50):
                send(warm_ids)
            tracker.wait_completed(list(warm_ids), 60)

            ctx.progress(f"e2e: celery sustained load for {duration:.0f}s (backlog <= {BACKLOG})")
            sent: dict[str, float] = {}
            base = tracker.completed()
            t0 = time.time()
            allowed, polled = BACKLOG, 0.0
            while time.time() < t0 + duration:
                if time.time() - polled > 0.2:
                    allowed, polled = tracker.completed() - base + BACKLOG, time.time()
                if len(sent) < allowed:
                    send(sent)
                else:
                    time.sleep(0.002)
            done = tracker.wait_completed(list(sent), drain)
            out["throughput_jobs_per_s"] = _window_rate(done, t0 + warm, t0 + duration)
            out["submitted"] = out["accepted"] = len(sent)

            ctx.progress(f"e2e: celery latency at {FIXED_RATE:.0f} jobs/s for {lat_s:.0f}s")
            fixed: dict[str, float] = {}
            start = time.perf_counter()
            for i in range(int(lat_s * FIXED_RATE)):
                delay = start + i / FIXED_RATE - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                send(fixed)
            lat_done = tracker.wait_completed(list(fixed), drain)
            out["fixed_rate_accepted"] = len(fixed)
            out.update({k: v for k, v in summarize(_latencies(fixed, lat_done)).items() if k != "max_ms"})
            total = len(warm_ids) + len(sent) + len(fixed)
            pg = tracker.completed()
            out["accounting"] = {"accepted": total, "postgres_completed": pg, "all_accounted": pg == total}
    finally:
        tracker.close()
    return out


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    duration = float(ctx.pick(6, 60))
    warm = float(ctx.pick(2, 5))
    lat_s = float(ctx.pick(2, 30))
    drain = float(ctx.pick(20, 120))
    ns = new_namespace(NAME, ctx.environ, ctx.run_id)
    celery_db = f"{ns.tag}_celery"
    result.conditions = {
        "job": {"type": JOB.job_type, "payload": JOB.payload},
        "sustained_seconds": duration,
        "throughput_window": f"completions with finished_at in [t0+{warm:g}s, t0+{duration:g}s)",
        "backlog_limit": BACKLOG,
        "observatory_client": "16 keep-alive HTTP clients (separate process) POST /jobs to the gateway",
        "celery_client": "send_task from the bench process (default publisher settings)",
        "celery_worker": "prefork, concurrency 2, acks_late, one PostgreSQL commit per task",
        "fixed_rate_jobs_per_s": FIXED_RATE,
        "latency_seconds": lat_s,
        "latency": "PostgreSQL finished_at - client send time (jobs completed within the drain time)",
        "drain_seconds": drain,
        "accounting": f"waits up to {drain * 2.5:g}s for every accepted job to reach all three stores",
        "pipeline_writes": "gateway: duplicate check + PENDING insert; processor: claim + finish; "
        "aggregator: 3 audit documents (MongoDB) + 3 Redis script calls per job",
    }
    try:
        ns.migrate()
        migrate(with_database(ns.database_url, celery_db))
        ours = _pipeline(ctx, ns, duration, warm, lat_s, drain)
        theirs = _celery(ctx, ns, with_database(ns.database_url, celery_db), duration, warm, lat_s, drain)
        result.tables["results"] = [
            {k: v for k, v in row.items() if k != "accounting"} for row in (ours, theirs)
        ]
        result.tables["accounting"] = [{"system": ours["system"], **ours["accounting"]},
                                       {"system": theirs["system"], **theirs["accounting"]}]  # fmt: skip
        tput = ratio(ours.get("throughput_jobs_per_s"), theirs.get("throughput_jobs_per_s"))
        p99 = ratio(ours.get("p99_ms"), theirs.get("p99_ms"))
        result.tables["ratios"] = [{"throughput_ratio": tput, "p99_ratio": p99}]
        result.verdicts += [
            verdict("throughput / celery", tput, at_least=1.0),
            verdict("p99 / celery p99", p99, at_most=1.0),
            verdict("jobs not accounted for after the drain time", _missing(ours["accounting"]), at_most=0),
        ]
    finally:
        result.notes.extend(f"cleanup: {p}" for p in cleanup(ns, extra_databases=(celery_db,)))
    return result


def _missing(accounting: dict[str, Any]) -> float:
    pick: Callable[[str], int] = lambda k: int(accounting.get(k) or 0)  # noqa: E731
    return float(accounting["accepted"] - min(pick("postgres_completed"), pick("mongodb_completed_events"),
                                               pick("redis_completed")))  # fmt: skip
