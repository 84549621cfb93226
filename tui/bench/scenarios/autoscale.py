"""5. Autoscaling: a burst of jobs, the time until the desired instances are ready, and instances over time.

The runtime runs with Knative's defaults (stable window 60s, panic window 6s, tick 2s). The burst is a
closed loop of 160 gateway clients submitting 1-second ``sleep`` jobs (the processor's
concurrency is then bounded by its Trigger's parallelism, the gateway's by the clients); the admin JSON is sampled every 250 ms for
the burst and a tail after it. The PNG beside the JSON plots ready (solid) and desired (dashed)
instances per Service.
"""

from __future__ import annotations

import time
from typing import Any

from tui.bench.isolation import cleanup, new_namespace
from tui.bench.load import JobSpec, LoadPlan, start_load
from tui.bench.model import Context, ScenarioResult
from tui.bench.plot import plot_instances
from tui.bench.runtime import RuntimeProcess
from tui.bench.stats import scale_lags

NAME = "autoscale"
TITLE = "Autoscaling: burst -> desired instances ready, instances over time"
JOB = JobSpec("sleep", {"seconds": 1.0})
CONCURRENCY = 160


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    burst_s = float(ctx.pick(8, 30))
    tail_s = float(ctx.pick(3, 20))
    ns = new_namespace(NAME, ctx.environ, ctx.run_id)
    result.conditions = {
        "burst": f"{CONCURRENCY} closed-loop clients POST /jobs for {burst_s:g}s",
        "job": {"type": JOB.job_type, "payload": JOB.payload},
        "sampling": "admin JSON every 250 ms, for the burst and a tail after it",
        "tail_seconds": tail_s,
        "autoscaler": "knative/ annotations with the runtime's defaults (KPA port)",
    }
    series: dict[str, list[tuple[float, int, int]]] = {}
    try:
        ns.migrate()
        ctx.progress(f"autoscale: starting the runtime ({ns.tag})")
        with RuntimeProcess(ns, module=ctx.runtime_module) as rt:
            url = rt.service_url("gateway") + "/jobs"
            ctx.progress(f"autoscale: burst for {burst_s:g}s, sampling instances")
            t0 = time.monotonic()
            load = start_load(LoadPlan(url, JOB, concurrency=CONCURRENCY, duration_s=burst_s))
            while time.monotonic() < t0 + burst_s + tail_s:
                doc = _sample(rt)
                t = round(time.monotonic() - t0, 3)
                for svc in doc.get("services", []):
                    series.setdefault(svc["name"], []).append(
                        (t, int(svc.get("desired") or 0), int(svc.get("ready") or 0))
                    )
                time.sleep(0.25)
            sent = load.result()
        rows = []
        for name, points in sorted(series.items()):
            lags = scale_lags(points)
            rows.append(
                {
                    "service": name,
                    "start_instances": points[0][2] if points else None,
                    "peak_desired": max((d for _, d, _ in points), default=0),
                    "peak_ready": max((r for _, _, r in points), default=0),
                    "first_scale_up_s": lags[0].decided_at_s if lags else None,
                    "ready_after_decision_s": [lag.lag_s for lag in lags],
                }
            )
        result.tables["services"] = rows
        result.tables["burst"] = [{"requests": len(sent.sent), "statuses": sent.statuses()}]
        png = ctx.out_dir / "autoscale.png"
        plot_instances(series, png, f"Instances during a {burst_s:g}s burst ({CONCURRENCY} clients)", burst_s)
        result.files.append(png.name)
        result.tables["series"] = [
            {"service": n, "t_desired_ready": [list(p) for p in pts]} for n, pts in sorted(series.items())
        ]
    finally:
        result.notes.extend(f"cleanup: {p}" for p in cleanup(ns))
    return result


def _sample(rt: RuntimeProcess) -> dict[str, Any]:
    try:
        return rt.snapshot()
    except Exception:  # a missed sample is a gap in the plot, not a failed run
        return {}
