"""The alerts panel: what /alerts reports, or why there is nothing to report."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tui.widgets.view_model import clock

SHOWN = 6


class AlertsPanel(Static):
    def on_mount(self) -> None:
        self.border_title = "Alerts"
        self.update(Text("loading /alerts…", "dim"))

    def show(self, doc: dict[str, Any]) -> None:
        alerts = [a for a in doc.get("alerts") or [] if isinstance(a, dict)]
        self.border_title = f"Alerts ({len(alerts)})"
        text = Text()
        if doc.get("error"):
            text.append(f"⚠ {doc['error']}\n", "yellow")
        elif not alerts and doc.get("note"):
            text.append(f"{doc['note']}\n", "dim")
        elif not alerts:
            text.append("✓ no active alerts\n", "green")
        for alert in alerts[:SHOWN]:
            critical = alert.get("severity") == "critical"
            text.append("● ", "red bold" if critical else "yellow")
            text.append(f"{alert.get('name') or 'unnamed'}", "bold")
            text.append(f" [{alert.get('severity') or '-'}] since {clock(alert.get('startsAt'))}\n")
            if alert.get("summary"):
                text.append(f"  {alert['summary']}\n", "dim")
        if len(alerts) > SHOWN:
            text.append(f"… and {len(alerts) - SHOWN} more", "dim")
        self.update(text)

    def show_error(self, error: str) -> None:
        self.border_title = "Alerts (stale)"
        self.update(Text(f"⚠ {error}", "yellow"))
