"""6. Footprint: RSS of each function instance idle and under load, and the runtime's own RSS.

RSS is VmRSS from /proc/<pid>/status (resident, shared pages counted in each process), sampled every
500 ms; "under load" is the highest sample while 16 clients submit ``hash`` jobs through the gateway.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tui.bench.isolation import cleanup, new_namespace
from tui.bench.load import JobSpec, LoadPlan, start_load
from tui.bench.model import Context, ScenarioResult
from tui.bench.runtime import RuntimeProcess
from tui.bench.stats import rss_kib, verdict

NAME = "footprint"
TITLE = "Footprint: RSS per function instance (idle, under load) and of the runtime"
JOB = JobSpec("hash", {"data": "observatory", "rounds": 1000})
TARGET_MB = 80.0


def _rss_mb(pid: int) -> float | None:
    try:
        kib = rss_kib(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return None if kib is None else round(kib / 1024, 1)


def _instances(doc: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {
        i["name"]: (s["name"], int(i["pid"])) for s in doc.get("services", []) for i in s.get("instances", [])
    }


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    load_s = float(ctx.pick(6, 30))
    idle_wait = float(ctx.pick(2, 5))
    ns = new_namespace(NAME, ctx.environ, ctx.run_id)
    result.conditions = {
        "rss": "VmRSS from /proc/<pid>/status, MB = KiB/1024",
        "idle": f"after start-up and {idle_wait:g}s without requests",
        "load": f"16 clients POST /jobs ({JOB.job_type}) for {load_s:g}s; peak of 500 ms samples",
    }
    idle: dict[str, float | None] = {}
    peak: dict[str, float] = {}
    owner: dict[str, str] = {}
    try:
        ns.migrate()
        ctx.progress(f"footprint: starting the runtime ({ns.tag})")
        with RuntimeProcess(ns, module=ctx.runtime_module) as rt:
            time.sleep(idle_wait)
            for name, (svc, pid) in _instances(rt.snapshot()).items():
                idle[name], owner[name] = _rss_mb(pid), svc
            runtime_idle = _rss_mb(rt.pid)
            ctx.progress(f"footprint: load for {load_s:g}s, sampling RSS")
            load = start_load(
                LoadPlan(rt.service_url("gateway") + "/jobs", JOB, concurrency=16, duration_s=load_s)
            )
            runtime_peak = runtime_idle or 0.0
            deadline = time.monotonic() + load_s
            while time.monotonic() < deadline:
                for name, (svc, pid) in _instances(rt.snapshot()).items():
                    owner[name] = svc
                    mb = _rss_mb(pid)
                    if mb is not None:
                        peak[name] = max(peak.get(name, 0.0), mb)
                runtime_peak = max(runtime_peak, _rss_mb(rt.pid) or 0.0)
                time.sleep(0.5)
            load.result()
        rows: list[dict[str, Any]] = [
            {
                "process": name,
                "service": owner[name],
                "idle_mb": idle.get(name),
                "load_peak_mb": peak.get(name),
            }
            for name in sorted(owner)
        ]
        rows.append(
            {
                "process": "knlocal runtime",
                "service": "-",
                "idle_mb": runtime_idle,
                "load_peak_mb": runtime_peak,
            }
        )
        result.tables["rss"] = rows
        worst = max(
            (v for r in rows[:-1] for v in (r["idle_mb"], r["load_peak_mb"]) if v is not None), default=None
        )
        result.verdicts.append(verdict("largest function instance RSS (MB)", worst, at_most=TARGET_MB))
    finally:
        result.notes.extend(f"cleanup: {p}" for p in cleanup(ns))
    return result
