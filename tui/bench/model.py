"""What a scenario gets (``Context``) and gives back (``ScenarioResult``); plain data, JSON-ready."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.bench.stats import Verdict

__all__ = ["Context", "ScenarioResult", "stderr_progress"]

Row = dict[str, Any]


def stderr_progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Context:
    quick: bool
    out_dir: Path
    run_id: str
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    progress: Callable[[str], None] = stderr_progress
    runtime_module: str = "knlocal"  # the module `python -m` runs as the runtime

    def pick(self, quick: Any, full: Any) -> Any:
        return quick if self.quick else full


@dataclass
class ScenarioResult:
    name: str
    title: str
    conditions: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[Row]] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "conditions": self.conditions,
            "tables": self.tables,
            "verdicts": [v.as_dict() for v in self.verdicts],
            "notes": self.notes,
            "files": self.files,
            "error": self.error,
            "seconds": round(self.seconds, 1),
        }
