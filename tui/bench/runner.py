"""Runs the chosen scenarios in order, each in its own isolated namespace, and writes the results after
every scenario to ``partial.*`` (so an interrupted run still leaves what it measured, without replacing
the last complete ``latest.*``). A scenario that fails is recorded
with its error and the run goes on; Ctrl-C or SIGTERM stops the run after the current scenario's cleanup.
"""

from __future__ import annotations

import importlib
import os
import secrets
import signal
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from tui.bench import report
from tui.bench.machine import describe
from tui.bench.model import Context, ScenarioResult, stderr_progress

__all__ = ["SCENARIOS", "RunOutcome", "run"]

# Name -> module under tui.bench.scenarios, in the order a full run takes them.
SCENARIOS = ("ingest", "e2e", "coldstart", "readmodel", "autoscale", "footprint")


class RunOutcome:
    def __init__(self, document: dict[str, Any], paths: tuple[Path, Path], interrupted: bool) -> None:
        self.document = document
        self.paths = paths
        self.interrupted = interrupted

    @property
    def failed(self) -> list[str]:
        return [s["name"] for s in self.document["scenarios"] if s.get("error")]


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"tui.bench.scenarios.{name}")


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(
    names: Sequence[str],
    *,
    quick: bool,
    out_dir: Path,
    progress: Callable[[str], None] = stderr_progress,
) -> RunOutcome:
    run_id = secrets.token_hex(3)
    ctx = Context(quick=quick, out_dir=out_dir, run_id=run_id, progress=progress)
    started = time.monotonic()
    document: dict[str, Any] = {
        "run_id": run_id,
        "mode": "quick" if quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_start": [round(x, 2) for x in os.getloadavg()],
        "machine": describe(dict(os.environ)),
        "scenarios": [],
    }
    progress(f"bench {run_id}: {', '.join(names)} ({document['mode']}), results in {out_dir}")
    previous = signal.signal(signal.SIGTERM, _sigterm)
    interrupted = False
    paths = (out_dir / f"{report.PARTIAL}.json", out_dir / f"{report.PARTIAL}.md")
    try:
        for name in names:
            mod = _load(name)
            progress(f"== {name}: {mod.TITLE}")
            t0 = time.monotonic()
            try:
                result: ScenarioResult = mod.run(ctx)
            except KeyboardInterrupt:
                result = ScenarioResult(name, mod.TITLE, error="interrupted")
                interrupted = True
            except Exception as exc:  # one scenario's failure is recorded; the others still run
                result = ScenarioResult(name, mod.TITLE, error=f"{exc.__class__.__name__}: {exc}")
            result.seconds = time.monotonic() - t0
            document["scenarios"].append(result.as_dict())
            for v in result.verdicts:
                progress(f"   {v.name}: {v.value} (target {v.target}) -> "
                         f"{ {True: 'met', False: 'NOT MET', None: 'not measured'}[v.met] }")  # fmt: skip
            if result.error:
                progress(f"   {name} failed: {result.error}")
            document["seconds"] = round(time.monotonic() - started, 1)
            document["load_end"] = [round(x, 2) for x in os.getloadavg()]
            # "partial" until the run completes, so an interrupted run never replaces the last complete one.
            paths = report.write(document, out_dir, report.PARTIAL)
            if interrupted:
                break
        if not interrupted:
            paths = report.write(document, out_dir, report.LATEST)
            report.discard(out_dir, report.PARTIAL)
    finally:
        signal.signal(signal.SIGTERM, previous)
    progress(f"bench {run_id}: done in {document.get('seconds')}s; {paths[0]} and {paths[1]}")
    return RunOutcome(document, paths, interrupted)
