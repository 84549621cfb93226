"""The dashboard: stats, alerts, the live jobs table with its filters, and the connection status."""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select

from tui.client import ClientError
from tui.messages import AlertsLoaded, JobChanged, JobsLoaded, ReadFailed, StatsLoaded, StreamState
from tui.screens.base import host
from tui.widgets.alerts_panel import AlertsPanel
from tui.widgets.jobs_table import JobsTable
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.status_bar import StatusBar
from tui.widgets.view_model import JOB_TYPES, STATUSES, JobFilter, reconnect_delay, search_text

ALERTS_EVERY_S = 15.0
PAGE = 50


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "app.new_job", "New job"),
        Binding("d", "app.dead_letters", "Dead letters"),
        Binding("l", "app.launcher", "Launcher"),
        Binding("slash", "search", "Search"),
        Binding("r", "refresh", "Refresh"),
        Binding("m", "more", "More rows", show=False),
        Binding("escape", "leave_search", "Back to table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = JobFilter()
        self.next_cursor: str | None = None
        self.stream_was_down = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield StatsPanel(id="stats")
            yield AlertsPanel(id="alerts")
        with Horizontal(id="filters"):
            yield Select([(s.lower(), s) for s in STATUSES], prompt="any status", id="status-filter")
            yield Select([(t, t) for t in JOB_TYPES], prompt="any type", id="type-filter")
            yield Input(placeholder="/ search id, type or payload (3+ chars)", id="search")
        yield JobsTable(id="jobs")
        yield StatusBar("connecting to the read model…", id="status-bar")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Task Observatory"
        self.sub_title = host(self).client.endpoints.read_model
        self.query_one(JobsTable).focus()
        self.action_refresh()
        self.follow_stream()
        self.set_interval(ALERTS_EVERY_S, self.load_alerts)

    # -- workers: all I/O happens here and comes back as messages ----------------------------------------

    @work(exclusive=True, group="stats")
    async def load_stats(self) -> None:
        try:
            self.post_message(StatsLoaded(await host(self).client.stats()))
        except ClientError as exc:
            self.post_message(ReadFailed("stats", str(exc)))

    @work(exclusive=True, group="jobs")
    async def load_jobs(self, cursor: str | None = None) -> None:
        wanted = self.filter
        try:
            page = await host(self).client.jobs(
                status=wanted.status, job_type=wanted.job_type, q=wanted.q, cursor=cursor, limit=PAGE
            )
        except ClientError as exc:
            self.post_message(ReadFailed("jobs", str(exc)))
            return
        items = [i for i in page.get("items") or [] if isinstance(i, dict)]
        self.post_message(JobsLoaded(items, page.get("nextCursor"), append=cursor is not None))

    @work(exclusive=True, group="alerts")
    async def load_alerts(self) -> None:
        try:
            self.post_message(AlertsLoaded(await host(self).client.alerts()))
        except ClientError as exc:
            self.post_message(ReadFailed("alerts", str(exc)))

    @work(exclusive=True, group="stream")
    async def follow_stream(self) -> None:
        """Follow /stream for ever: reconnect after a drop, waiting longer each time, and say so."""
        app = host(self)
        attempt = 0
        while True:
            live = False
            try:
                async for event in app.client.stream(app.stream_interval_s):
                    if not live:
                        live, attempt = True, 0
                        self.post_message(StreamState(True))
                    if event.name == "stats" and isinstance(event.data, dict):
                        self.post_message(StatsLoaded(event.data))
                    elif event.name == "job" and isinstance(event.data, dict):
                        self.post_message(JobChanged(event.data))
                    elif event.name == "error":
                        detail = event.data.get("detail") if isinstance(event.data, dict) else event.data
                        self.post_message(ReadFailed("stream", f"read model: {detail}"))
                why = "the live stream ended"
            except ClientError as exc:
                why = str(exc)
            attempt += 1
            wait = reconnect_delay(attempt, app.reconnect_s)
            self.post_message(StreamState(False, f"{why} · reconnecting in {wait:.0f}s"))
            await asyncio.sleep(wait)

    # -- handlers: update widgets only --------------------------------------------------------------------

    def on_stats_loaded(self, message: StatsLoaded) -> None:
        panel = self.query_one(StatsPanel)
        panel.show(message.stats)
        panel.mark_fresh()

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        table = self.query_one(JobsTable)
        if message.append:
            table.append_page(message.items)
        else:
            table.replace(message.items)
        self.next_cursor = message.next_cursor
        more = " · m loads older rows" if message.next_cursor else ""
        table.border_title = f"Jobs — {self.filter.describe()} — {len(table.jobs)} shown{more}"

    def on_job_changed(self, message: JobChanged) -> None:
        self.query_one(JobsTable).change(message.job)

    def on_alerts_loaded(self, message: AlertsLoaded) -> None:
        self.query_one(AlertsPanel).show(message.alerts)

    def on_stream_state(self, message: StreamState) -> None:
        bar = self.query_one(StatusBar)
        if message.live:
            bar.set_live(f"following {host(self).client.endpoints.read_model}/stream")
            if self.stream_was_down:  # changes made while we were away did not stream: read them
                self.stream_was_down = False
                self.load_jobs()
                self.load_alerts()
        else:
            self.stream_was_down = True
            bar.set_problem(message.detail)
            self.query_one(StatsPanel).mark_stale("stream down")

    def on_read_failed(self, message: ReadFailed) -> None:
        if message.what == "alerts":
            self.query_one(AlertsPanel).show_error(message.error)
            return
        if message.what == "stats":
            self.query_one(StatsPanel).mark_stale(message.error[:60])
        self.query_one(StatusBar).set_problem(message.error)

    @on(DataTable.RowSelected, "#jobs")
    def open_job(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            host(self).action_open_job(event.row_key.value)

    @on(Select.Changed, "#status-filter")
    def status_changed(self, event: Select.Changed) -> None:
        value = event.value if isinstance(event.value, str) else None
        self.set_filter(JobFilter(value, self.filter.job_type, self.filter.q))

    @on(Select.Changed, "#type-filter")
    def type_changed(self, event: Select.Changed) -> None:
        value = event.value if isinstance(event.value, str) else None
        self.set_filter(JobFilter(self.filter.status, value, self.filter.q))

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        query, hint = search_text(event.value)
        if hint:
            self.query_one(StatusBar).set_note(hint)
            return
        if query != self.filter.q:
            self.set_filter(JobFilter(self.filter.status, self.filter.job_type, query))

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.query_one(JobsTable).focus()

    def set_filter(self, wanted: JobFilter) -> None:
        self.filter = wanted
        self.query_one(JobsTable).filter = wanted
        self.load_jobs()

    def apply_status(self, status: str | None) -> None:
        """From the command palette: set the status selector (which reloads through its Changed event)."""
        select: Select[str] = self.query_one("#status-filter", Select)
        if status is None:
            select.clear()
        else:
            select.value = status

    def apply_type(self, job_type: str | None) -> None:
        select: Select[str] = self.query_one("#type-filter", Select)
        if job_type is None:
            select.clear()
        else:
            select.value = job_type

    # -- actions ------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load_stats()
        self.load_jobs()
        self.load_alerts()

    def action_more(self) -> None:
        if self.next_cursor:
            self.load_jobs(self.next_cursor)
        else:
            self.notify("no older rows for this filter")

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_leave_search(self) -> None:
        self.query_one(JobsTable).focus()

    def selected_job(self) -> dict[str, Any] | None:
        table = self.query_one(JobsTable)
        wanted = table.selected_job_id()
        return next((j for j in table.jobs if str(j.get("id")) == wanted), None)
