"""1. Ingest: jobs accepted per second through the gateway (202 after the broker's confirm) and latency at
concurrency 1, 8 and 64, against raw pika publishing with confirms to the same RabbitMQ in the same run.

The raw figures come from ``knlocal.eventing.bench_ingress`` (run as a child process, its output parsed),
which also measures the broker ingress alone, so the table splits the gateway's cost into its hops.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pika

from tui.bench.isolation import cleanup, new_namespace
from tui.bench.load import JobSpec, LoadPlan, run_load
from tui.bench.manifests import discard, without
from tui.bench.model import Context, ScenarioResult
from tui.bench.runtime import RuntimeProcess, repo_root
from tui.bench.stats import rate, ratio, summarize, verdict

NAME = "ingest"
TITLE = "Ingest: gateway 202s per second vs raw pika with confirms"
LEVELS = (1, 8, 64)
TARGET_RATIO = 0.6
JOB = JobSpec("echo", {"message": "bench"})


@dataclass(frozen=True)
class RawFigures:
    blocking: float | None
    asyncio: dict[int, float]
    ingress: dict[int, float]


_BLOCKING = re.compile(r"^pika blocking\s+c=1\s+(\d+(?:\.\d+)?) events/s")
_ASYNCIO = re.compile(r"^pika asyncio\s+c=(\d+)\s+(\d+(?:\.\d+)?) events/s")
_INGRESS = re.compile(r"^ingress HTTP\s+c=(\d+)\s+(\d+(?:\.\d+)?) events/s")


def parse_raw(output: str) -> RawFigures:
    """The figures of ``bench_ingress``'s output lines (pure; lines it does not know are ignored)."""
    blocking: float | None = None
    by_level: dict[int, float] = {}
    ingress: dict[int, float] = {}
    for line in output.splitlines():
        line = line.strip()
        if m := _BLOCKING.match(line):
            blocking = float(m[1])
        elif m := _ASYNCIO.match(line):
            by_level[int(m[1])] = float(m[2])
        elif m := _INGRESS.match(line):
            ingress[int(m[1])] = float(m[2])
    return RawFigures(blocking, by_level, ingress)


def _bind_probe_queue(amqp_url: str, exchange: str) -> str:
    """A quorum queue bound to the broker exchange, as bench_ingress binds one to its own: every confirm
    then includes the enqueue, on both sides of the comparison."""
    queue = f"{exchange}.bench-probe"
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ch = conn.channel()
        ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_bind(queue, exchange, arguments={"x-match": "all"})
    finally:
        conn.close()
    return queue


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    count = int(ctx.pick(300, 3000))
    cap_s = float(ctx.pick(5, 60))
    ns = new_namespace(NAME, ctx.environ, ctx.run_id)
    knative = without(("triggers/",))
    result.conditions = {
        "requests_per_level": f"{count}, or as many as {cap_s:g}s allow",
        "warmup_requests": 20,
        "job": {"type": JOB.job_type, "payload": JOB.payload},
        "manifests": "knative/ without triggers/ (nothing consumes during the test)",
        "queue": "one quorum queue bound to the broker exchange (x-match all), as in bench_ingress",
        "client": "httpx AsyncClient in a separate process, keep-alive, POST /jobs application/json (no client id)",
        "raw_baseline": f"python -m knlocal.eventing.bench_ingress --events {count} (same RabbitMQ, same run)",
    }
    try:
        ns.migrate()
        ctx.progress(f"ingest: starting the runtime ({ns.tag})")
        with RuntimeProcess(ns, knative_dir=knative, module=ctx.runtime_module) as rt:
            exchange = str(rt.snapshot()["broker"]["exchange"])
            _bind_probe_queue(ns.rabbitmq_url, exchange)
            url = rt.service_url("gateway") + "/jobs"
            rows: list[dict[str, Any]] = []
            for level in LEVELS:
                ctx.progress(f"ingest: gateway c={level}, {count} requests (at most {cap_s:g}s)")
                load = run_load(
                    LoadPlan(url, JOB, concurrency=level, count=count, duration_s=cap_s, warmup=20)
                )
                ok = load.accepted()
                rows.append(
                    {
                        "path": "gateway POST /jobs",
                        "concurrency": level,
                        "jobs_per_s": rate(len(ok), load.elapsed_s),
                        **{
                            k: v
                            for k, v in summarize([s.latency_s for s in ok]).items()
                            if k in ("p50_ms", "p99_ms")
                        },
                        "non_202": len(load.sent) - len(ok),
                    }
                )
        ctx.progress(f"ingest: raw pika and ingress baseline ({count} events per line)")
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "knlocal.eventing.bench_ingress", "--events", str(count)],
            cwd=repo_root(), env={**ctx.environ, "RABBITMQ_URL": ns.rabbitmq_url},
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        raw = parse_raw(proc.stdout)
        if proc.returncode != 0 or not raw.asyncio:
            result.notes.append(
                f"bench_ingress failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:] or proc.stdout[-300:]}"
            )
        result.conditions["raw_baseline_seconds"] = round(time.perf_counter() - started, 1)
        result.conditions["raw_baseline_conditions"] = next(
            (ln[len("conditions: ") :] for ln in proc.stdout.splitlines() if ln.startswith("conditions: ")),
            None,
        )
        for row in rows:
            level = int(row["concurrency"])
            row["ingress_only_per_s"] = raw.ingress.get(level)
            row["raw_pika_per_s"] = raw.asyncio.get(level)
            row["ratio_vs_pika"] = ratio(row["jobs_per_s"], raw.asyncio.get(level))
            result.verdicts.append(
                verdict(f"gateway/raw pika at c={level}", row["ratio_vs_pika"], at_least=TARGET_RATIO)
            )
        result.tables["throughput"] = rows
        result.tables["raw pika"] = [
            {
                "publisher": "pika BlockingConnection, wait per confirm",
                "concurrency": 1,
                "events_per_s": raw.blocking,
            },
            *(
                {
                    "publisher": "pika asyncio, confirms matched asynchronously",
                    "concurrency": c,
                    "events_per_s": r,
                }
                for c, r in sorted(raw.asyncio.items())
            ),
        ]
        result.notes.append(
            "raw pika = knlocal's asyncio channel with `c` publishes in flight (bench_ingress 'pika asyncio'); "
            "ratio = gateway jobs/s / raw pika events/s at the same concurrency"
        )
    finally:
        discard(knative)
        result.notes.extend(f"cleanup: {p}" for p in cleanup(ns))
    return result
