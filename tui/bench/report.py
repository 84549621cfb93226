"""The run as JSON and as Markdown. ``markdown`` is pure (a dict in, text out); ``write`` does the I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LATEST", "PARTIAL", "cell", "discard", "markdown", "table", "write"]

LATEST = "latest"
PARTIAL = "partial"  # written after every scenario; becomes "latest" when the run completes


def cell(value: Any) -> str:
    """One table cell: numbers without noise, None as a dash, nested values as compact JSON, pipes escaped."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, separators=(", ", ": "), default=str)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A Markdown table whose columns are the union of the rows' keys, in first-seen order."""
    if not rows:
        return ["(no rows)"]
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return lines


def _verdict_mark(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[met]


def markdown(run: Mapping[str, Any], *, skip_tables: Sequence[str] = ("series",)) -> str:
    machine = run.get("machine", {})
    lines = [
        f"# Benchmark results ({run.get('mode', '?')} run)",
        "",
        f"Started {run.get('started_at')}, took {run.get('seconds')} s; run id `{run.get('run_id')}`.",
        "",
        "## Machine",
        "",
    ]
    for key in ("cpus", "cpu_model", "memory_mb", "kernel", "python", "git_commit"):
        lines.append(f"- {key}: {cell(machine.get(key))}")
    lines.append(
        f"- load average at start / end: {cell(run.get('load_start'))} / {cell(run.get('load_end'))}"
    )
    lines.append(f"- services: {cell(machine.get('services'))}")
    lines.append(f"- packages: {cell(machine.get('packages'))}")
    verdicts = [(s["name"], v) for s in run.get("scenarios", []) for v in s.get("verdicts", [])]
    if verdicts:
        lines += [
            "",
            "## Targets",
            "",
            "| scenario | figure | value | target | verdict |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {cell(v['name'])} | {cell(v['value'])} | {cell(v['target'])} | {_verdict_mark(v['met'])} |"
            for name, v in verdicts
        ]
    for scenario in run.get("scenarios", []):
        lines += ["", f"## {scenario['name']}: {scenario['title']}", ""]
        if scenario.get("error"):
            lines += [f"**Failed:** {cell(scenario['error'])}", ""]
        lines.append(f"Took {scenario.get('seconds')} s. Conditions:")
        lines.append("")
        lines += [f"- {k}: {cell(v)}" for k, v in scenario.get("conditions", {}).items() if v is not None]
        for name, rows in scenario.get("tables", {}).items():
            if name in skip_tables:
                continue
            lines += ["", f"**{name}**", "", *table(rows)]
        for f in scenario.get("files", []):
            lines += ["", f"![{scenario['name']}]({f})"]
        if scenario.get("notes"):
            lines += ["", *[f"- {n}" for n in scenario["notes"]]]
    return "\n".join(lines) + "\n"


def write(run: Mapping[str, Any], out_dir: Path, name: str = LATEST) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(run, indent=1, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(run), encoding="utf-8")
    return json_path, md_path


def discard(out_dir: Path, name: str) -> None:
    for suffix in (".json", ".md"):
        (out_dir / f"{name}{suffix}").unlink(missing_ok=True)
