"""Submit a job: pick a type, edit its JSON payload, send it to the gateway; show the 202 or the field errors."""

from __future__ import annotations

import json

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static, TextArea

from tui.client import ApiProblem, ClientError
from tui.messages import JobAccepted, JobRefused
from tui.screens.base import host
from tui.widgets.view_model import JOB_TYPES, SAMPLE_PAYLOADS, parse_payload, problem_lines


def _sample(job_type: str) -> str:
    return json.dumps(SAMPLE_PAYLOADS.get(job_type, {}), indent=2)


class NewJobScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+s", "submit", "Submit"),
        Binding("ctrl+o", "open_accepted", "Open accepted job"),
    ]

    def __init__(self, job_type: str = "echo") -> None:
        super().__init__()
        self.job_type = job_type if job_type in JOB_TYPES else "echo"
        self.accepted_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="new-job"):
            with Horizontal(id="new-job-head"):
                yield Label("type", classes="field-label")
                yield Select(
                    [(t, t) for t in JOB_TYPES], value=self.job_type, allow_blank=False, id="job-type"
                )
                yield Label("id", classes="field-label")
                yield Input(placeholder="optional job UUID (same id twice = one job)", id="job-id")
            yield Label("payload (JSON object; ctrl+s submits)", classes="field-label")
            yield TextArea(_sample(self.job_type), id="payload", show_line_numbers=True)
            with Horizontal(id="new-job-actions"):
                yield Button("Submit", variant="primary", id="submit")
                yield Button("Sample payload", id="sample")
            yield Static("", id="submit-result")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "New job"
        self.sub_title = f"POST {host(self).client.endpoints.gateway}/jobs"
        self.query_one("#payload", TextArea).focus()

    @on(Select.Changed, "#job-type")
    def type_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self.job_type:
            return
        editor = self.query_one("#payload", TextArea)
        if editor.text.strip() in ("", _sample(self.job_type).strip()):  # keep what the user typed
            editor.text = _sample(event.value)
        self.job_type = event.value

    @on(Button.Pressed, "#sample")
    def use_sample(self) -> None:
        self.query_one("#payload", TextArea).text = _sample(self.job_type)

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        payload, why = parse_payload(self.query_one("#payload", TextArea).text)
        if payload is None:
            self._show(Text.assemble(("✗ not sent: ", "red bold"), why or ""))
            return
        job_id = self.query_one("#job-id", Input).value.strip() or None
        self._show(Text("⏳ submitting…", "yellow"))
        self.send(self.job_type, payload, job_id)

    @work(exclusive=True, group="submit")
    async def send(self, job_type: str, payload: dict[str, object], job_id: str | None) -> None:
        try:
            answer = await host(self).client.submit(job_type, payload, job_id)
        except ApiProblem as exc:
            self.post_message(JobRefused(str(exc), exc))
            return
        except ClientError as exc:
            self.post_message(JobRefused(str(exc)))
            return
        self.post_message(JobAccepted(answer))

    def on_job_accepted(self, message: JobAccepted) -> None:
        answer = message.answer
        self.accepted_id = str(answer.get("jobId") or "") or None
        verb = "already accepted before (duplicate)" if answer.get("duplicate") else "accepted"
        self._show(Text.assemble(
            (f"✓ {verb}: ", "green bold"), f"job {answer.get('jobId')}  status {answer.get('status')}",
            f"\n  event {answer.get('eventId')}", ("\n  ctrl+o opens its timeline · esc returns", "dim"),
        ))  # fmt: skip

    def on_job_refused(self, message: JobRefused) -> None:
        text = Text.assemble(("✗ refused: ", "red bold"), message.message)
        if message.problem is not None:
            for line in problem_lines(message.problem.errors):
                text.append(f"\n  • {line}", "red")
        self._show(text)

    def action_open_accepted(self) -> None:
        if self.accepted_id:
            host(self).action_open_job(self.accepted_id)

    def _show(self, text: Text) -> None:
        self.query_one("#submit-result", Static).update(text)
