"""3. Cold start: the first response after a Service scaled to zero, against a warm response.

The processor (min-scale 0) is left idle until the runtime has scaled it to zero (grace shortened to 2s,
stable window to 6s, so the wait is short), then one GET /healthz goes through its router: the
activator role buffers it, the autoscaler starts an instance, and the answer comes once the instance is
ready. Warm responses are the same request right after, with the instance up.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from tui.bench.isolation import cleanup, new_namespace
from tui.bench.model import Context, ScenarioResult
from tui.bench.runtime import RuntimeProcess, service_entry
from tui.bench.stats import summarize, verdict

NAME = "coldstart"
TITLE = "Cold start: first response after scale-to-zero vs warm"
SERVICE = "processor"
TARGET_S = 1.0
SETTINGS = {"KNLOCAL_SCALE_TO_ZERO_GRACE": "2s", "KNLOCAL_STABLE_WINDOW": "6s", "KNLOCAL_TICK_INTERVAL": "1s"}


def _at_zero(doc: dict[str, Any]) -> bool:
    entry = service_entry(doc, SERVICE)
    return int(entry.get("actual", 1)) == 0 and not entry.get("instances")


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    rounds = int(ctx.pick(1, 5))
    ns = new_namespace(NAME, ctx.environ, ctx.run_id)
    result.conditions = {
        "service": SERVICE,
        "request": "GET /healthz through the Service's router (activator + queue-proxy role)",
        "runtime_settings": SETTINGS,
        "rounds": rounds,
        "warm_requests_per_round": 20,
        "comparison": "Knative 1.17 published Python cold start: median 1,793 ms (min 1,497) on a cluster",
    }
    rows = []
    try:
        ns.migrate()
        ctx.progress(f"coldstart: starting the runtime ({ns.tag})")
        with (
            RuntimeProcess(ns, settings=SETTINGS, module=ctx.runtime_module) as rt,
            httpx.Client(timeout=60) as http,
        ):
            url = rt.service_url(SERVICE) + "/healthz"
            for i in range(rounds):
                ctx.progress(f"coldstart: round {i + 1}/{rounds}: waiting for {SERVICE} to scale to zero")
                if rt.wait_until(_at_zero, 90) is None:
                    result.notes.append(f"round {i + 1}: {SERVICE} did not reach zero within 90s")
                    break
                start = time.perf_counter()
                status = http.get(url).status_code
                cold = time.perf_counter() - start
                warm = []
                for _ in range(20):
                    t = time.perf_counter()
                    http.get(url)
                    warm.append(time.perf_counter() - t)
                rows.append(
                    {"round": i + 1, "cold_ms": round(cold * 1000, 1), "status": status,
                     "warm_p50_ms": round(statistics.median(warm) * 1000, 2)}
                )  # fmt: skip
        result.tables["rounds"] = rows
        colds = [r["cold_ms"] / 1000 for r in rows]
        summary = summarize(colds)
        result.tables["summary"] = [{"cold_p50_ms": summary["p50_ms"], "cold_max_ms": summary["max_ms"],
                                     "warm_p50_ms": statistics.median([r["warm_p50_ms"] for r in rows]) if rows else None}]  # fmt: skip
        worst = summary["max_ms"]
        result.verdicts.append(
            verdict(
                "slowest cold start (s)",
                None if worst is None else round(float(worst) / 1000, 3),
                at_most=TARGET_S,
            )
        )
    finally:
        result.notes.extend(f"cleanup: {p}" for p in cleanup(ns))
    return result
