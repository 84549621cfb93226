"""The live jobs table: newest first, kept in order as /stream reports changes, cursor kept on its row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tui.widgets.view_model import STATUS_COLOURS, JobFilter, clock, merge_page, millis, short_id, upsert

COLUMNS = ("id", "type", "status", "gen", "tries", "created", "duration", "error")


class JobsTable(DataTable[Any]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.jobs: list[dict[str, Any]] = []
        self.filter = JobFilter()

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def replace(self, items: Sequence[Mapping[str, Any]]) -> None:
        self.jobs = [dict(j) for j in items]
        self._render_rows()

    def append_page(self, items: Sequence[Mapping[str, Any]]) -> None:
        self.jobs = merge_page(self.jobs, items)
        self._render_rows()

    def change(self, job: Mapping[str, Any]) -> None:
        self.jobs = upsert(self.jobs, job, self.filter)
        self._render_rows()

    def selected_job_id(self) -> str | None:
        if not self.jobs or self.cursor_row < 0 or self.cursor_row >= len(self.jobs):
            return None
        return str(self.jobs[self.cursor_row]["id"])

    def _render_rows(self) -> None:
        keep = self.selected_job_id()
        self.clear()
        for job in self.jobs:
            status = str(job.get("status", ""))
            self.add_row(
                short_id(job.get("id")),
                str(job.get("type", "")),
                Text(status, STATUS_COLOURS.get(status, "")),
                str(job.get("generation", 0)),
                str(job.get("attempts", 0)),
                clock(job.get("createdAt")),
                millis(job.get("durationMs")),
                Text(str(job.get("errorCode") or ""), "red"),
                key=str(job.get("id")),
            )
        if keep is not None:
            for index, job in enumerate(self.jobs):
                if str(job.get("id")) == keep:
                    self.move_cursor(row=index, animate=False)
                    break
