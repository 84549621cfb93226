"""The stats panel: totals per status, throughput sparkline, latency percentiles, dead letters, instances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from tui.widgets.view_model import (
    STATUS_COLOURS,
    STATUSES,
    ago,
    millis,
    runtime_summary,
    sparkline_data,
    throughput_summary,
)


class StatsPanel(Vertical):
    """Filled by ``show(stats)`` with the body of /stats (or a ``stats`` event of /stream)."""

    def compose(self) -> ComposeResult:
        yield Static("waiting for /stats…", id="totals")
        yield Sparkline([0.0, 0.0], id="throughput", summary_function=max)
        yield Static("", id="throughput-caption")
        yield Static("", id="latency")
        yield Static("", id="instances")

    def on_mount(self) -> None:
        self.border_title = "Stats"

    def show(self, stats: dict[str, Any], now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        totals = stats.get("totals") if isinstance(stats.get("totals"), dict) else {}
        assert isinstance(totals, dict)
        line = Text()
        line.append(f"total {totals.get('total', 0)}", style="bold")
        for status in STATUSES:
            line.append("  ")
            line.append(f"{status.lower().replace('_', ' ')} {totals.get(status, 0)}", STATUS_COLOURS[status])
        self.query_one("#totals", Static).update(line)
        values, caption = throughput_summary(stats)
        self.query_one("#throughput", Sparkline).data = sparkline_data(values)
        self.query_one("#throughput-caption", Static).update(f"throughput: {caption}")
        latency = stats.get("latencyMs") if isinstance(stats.get("latencyMs"), dict) else {}
        assert isinstance(latency, dict)
        text = Text("latency ")
        for name in ("p50", "p95", "p99"):
            text.append(f"{name} {millis(latency.get(name))}  ")
        dead = stats.get("deadLetters", 0)
        text.append(f"dead letters {dead}", "magenta bold" if dead else "")
        text.append(f"  last event {ago(stats.get('lastEventTime'), now)}", "dim")
        self.query_one("#latency", Static).update(text)
        rows = runtime_summary(stats)
        instances = "instances " + "  ".join(f"{n} {v}" for n, v in rows) if rows else ""
        self.query_one("#instances", Static).update(instances)

    def mark_stale(self, why: str) -> None:
        self.border_subtitle = f"stale: {why}"
        self.add_class("stale")

    def mark_fresh(self) -> None:
        self.border_subtitle = ""
        self.remove_class("stale")
