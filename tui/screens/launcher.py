"""The local UIs with their ports, whether something answers there, and Enter to open one in a browser."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.messages import ProbesDone
from tui.screens.base import host
from tui.widgets.view_model import LocalUi, browser_blocker, local_uis

NOTE = ("'answers' means something accepted an HTTP request on that port — any status counts; "
        "it is not a health check. Enter opens the selected UI, r probes again.")  # fmt: skip


class LauncherScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "probe", "Probe again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.uis: list[LocalUi] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="uis", cursor_type="row")
        yield Static(NOTE, id="launcher-note")
        yield Static("", id="launcher-status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Local UIs"
        endpoints = host(self).client.endpoints
        self.uis = local_uis(endpoints.read_model, endpoints.gateway)
        table: DataTable[Any] = self.query_one("#uis", DataTable)
        for name, width in (("UI", 20), ("port", 5), ("URL", 35), ("reachable", 24), ("what it is", None)):
            table.add_column(name, key=name, width=width)
        for ui in self.uis:
            table.add_row(ui.name, str(ui.port), ui.url, Text("probing…", "dim"), ui.description, key=ui.key)
        table.focus()
        self.action_probe()

    @work(exclusive=True, group="probe")
    async def action_probe(self) -> None:
        results = await host(self).client.probe_all([ui.url for ui in self.uis])
        self.post_message(ProbesDone(results))

    def on_probes_done(self, message: ProbesDone) -> None:
        table: DataTable[Any] = self.query_one("#uis", DataTable)
        for ui, why in zip(self.uis, message.results, strict=True):
            cell = Text("answers", "green") if why is None else Text(f"no: {why}", "red")
            table.update_cell(ui.key, "reachable", cell)
        up = sum(1 for why in message.results if why is None)
        self.query_one("#launcher-status", Static).update(f"{up} of {len(self.uis)} answer")

    @on(DataTable.RowSelected, "#uis")
    def open_ui(self, event: DataTable.RowSelected) -> None:
        ui = next(u for u in self.uis if u.key == event.row_key.value)
        blocker = browser_blocker(os.environ, sys.platform)
        status = self.query_one("#launcher-status", Static)
        if blocker:
            status.update(Text.assemble((f"{ui.name}: {ui.url}", "bold"), f"  ({blocker})"))
            return
        self.app.open_url(ui.url)
        status.update(f"opened {ui.url} in your browser")
