"""One job: its PostgreSQL row, the merged timeline of all four stores, and the consistency verdict."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.client import ApiProblem, ClientError
from tui.messages import ReadFailed, TimelineLoaded
from tui.screens.base import host
from tui.widgets.view_model import STATUS_COLOURS, clock, compact_json, millis

SEVERITY_STYLE = {"error": "red bold", "warning": "yellow", "info": "cyan"}
STORE_STYLE = {"postgresql": "blue", "audit": "green", "redis": "red", "deadletters": "magenta"}


class JobDetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.entries: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"loading job {self.job_id}…", id="job-summary")
        yield Static("", id="verdict")
        with Horizontal(id="job-body"):
            yield DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="job-side"):
                yield Static("", id="entry-detail")
                yield Static("", id="job-data")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Job {self.job_id}"
        table: DataTable[Any] = self.query_one("#timeline", DataTable)
        for name in ("time", "store", "what", "detail"):
            table.add_column(name, key=name)
        self.load()

    @work(exclusive=True, group="timeline")
    async def load(self) -> None:
        client = host(self).client
        try:
            timeline = await client.timeline(self.job_id)
        except ClientError as exc:
            self.post_message(ReadFailed("timeline", _why(exc)))
            return
        try:
            job: dict[str, Any] | None = await client.job(self.job_id)
        except ClientError:  # the timeline can know a job that PostgreSQL does not (yet)
            job = None
        self.post_message(TimelineLoaded(job, timeline))

    def on_timeline_loaded(self, message: TimelineLoaded) -> None:
        self._show_job(message.job)
        self._show_verdict(message.timeline.get("verdict") or {})
        self.entries = [e for e in message.timeline.get("entries") or [] if isinstance(e, dict)]
        table: DataTable[Any] = self.query_one("#timeline", DataTable)
        table.clear()
        for entry in self.entries:
            store = str(entry.get("store", ""))
            what = str(entry.get("what", "")).removeprefix("dev.observatory.")
            table.add_row(clock(entry.get("time"), precise=True), Text(store, STORE_STYLE.get(store, "")), what,
                          _entry_detail(entry.get("detail")))  # fmt: skip
        table.border_title = f"Timeline ({len(self.entries)} entries, oldest first)"
        if self.entries:
            self._show_entry(0)

    def on_read_failed(self, message: ReadFailed) -> None:
        self.query_one("#job-summary", Static).update(Text(f"⚠ {message.error}", "red"))

    @on(DataTable.RowHighlighted, "#timeline")
    def entry_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_entry(event.cursor_row)

    def action_refresh(self) -> None:
        self.load()

    def _show_job(self, job: dict[str, Any] | None) -> None:
        summary = self.query_one("#job-summary", Static)
        if job is None:
            summary.update(Text("no PostgreSQL row for this job (only the other stores know it)", "yellow"))
            self.query_one("#job-data", Static).update("")
            return
        status = str(job.get("status", ""))
        text = Text.assemble(
            (f"{job.get('type')} ", "bold"), (status, STATUS_COLOURS.get(status, "")),
            f"  generation {job.get('generation')}  attempts {job.get('attempts')}",
            f"  created {clock(job.get('createdAt'))}  duration {millis(job.get('durationMs'))}",
            f"\ncorrelation {job.get('correlationId') or '—'}  submit event {job.get('submitEventId') or '—'}",
        )  # fmt: skip
        summary.update(text)
        data = Text()
        for name in ("payload", "result", "error"):
            if job.get(name) is not None:
                data.append(f"{name}\n", "bold")
                data.append(json.dumps(job[name], indent=2, sort_keys=True)[:4000] + "\n")
        self.query_one("#job-data", Static).update(data)

    def _show_verdict(self, verdict: dict[str, Any]) -> None:
        consistent = bool(verdict.get("consistent"))
        text = Text.assemble(
            ("✓ consistent: " if consistent else "✗ inconsistent: ", "green bold" if consistent else "red bold"),
            str(verdict.get("summary", "")),
        )  # fmt: skip
        for finding in verdict.get("findings") or []:
            severity = str(finding.get("severity", ""))
            text.append(f"\n  {severity}: ", SEVERITY_STYLE.get(severity, ""))
            text.append(str(finding.get("message", "")))
        self.query_one("#verdict", Static).update(text)

    def _show_entry(self, index: int) -> None:
        if 0 <= index < len(self.entries):
            entry = self.entries[index]
            body = json.dumps(entry.get("detail"), indent=2, sort_keys=True, default=str)
            self.query_one("#entry-detail", Static).update(
                Text.assemble((f"{entry.get('store')} · {entry.get('what')}\n", "bold"), body[:4000], "\n")
            )


def _entry_detail(detail: Any) -> str:
    if isinstance(detail, dict) and "status" in detail and "generation" in detail:
        return f"{detail['status']} gen {detail['generation']}"
    if isinstance(detail, dict) and "data" in detail:
        return compact_json(detail.get("data"), 60)
    return compact_json(detail, 60)


def _why(error: ClientError) -> str:
    if isinstance(error, ApiProblem) and error.status == 404:
        return "no such job in any store (404)"
    return str(error)
