"""Dead letters, newest first, with replay: confirm, then POST; a completed job needs a second, forced yes."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.client import ApiProblem, ClientError
from tui.messages import DeadLettersLoaded, ReadFailed, ReplayDone, ReplayRefused
from tui.screens.base import host
from tui.screens.confirm import ConfirmScreen
from tui.widgets.view_model import clock, short_id

COLUMNS = ("received", "job", "type", "event", "destination", "code", "replays")


class DeadLettersScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("p", "replay", "Replay"),
        Binding("o", "open_job", "Open job"),
        Binding("r", "refresh", "Refresh"),
        Binding("m", "more", "More rows", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.letters: list[dict[str, Any]] = []
        self.next_cursor: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="letters-body"):
            yield DataTable(id="letters", cursor_type="row", zebra_stripes=True)
            yield Static("", id="letter-detail")
        yield Static("p replays the selected dead letter (asks first) · o opens its job", id="letters-status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Dead letters"
        table: DataTable[Any] = self.query_one("#letters", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.load()

    @work(exclusive=True, group="letters")
    async def load(self, cursor: str | None = None) -> None:
        try:
            page = await host(self).client.dead_letters(cursor)
        except ClientError as exc:
            self.post_message(ReadFailed("dead letters", str(exc)))
            return
        items = [i for i in page.get("items") or [] if isinstance(i, dict)]
        self.post_message(DeadLettersLoaded(items, page.get("nextCursor"), append=cursor is not None))

    @work(exclusive=True, group="replay")
    async def send_replay(self, letter_id: str, force: bool) -> None:
        try:
            answer = await host(self).client.replay(letter_id, force=force)
        except ApiProblem as exc:
            self.post_message(ReplayRefused(letter_id, str(exc), exc.status))
            return
        except ClientError as exc:
            self.post_message(ReplayRefused(letter_id, str(exc), None))
            return
        self.post_message(ReplayDone(answer))

    def on_dead_letters_loaded(self, message: DeadLettersLoaded) -> None:
        self.letters = (self.letters if message.append else []) + message.items
        self.next_cursor = message.next_cursor
        table: DataTable[Any] = self.query_one("#letters", DataTable)
        table.clear()
        for letter in self.letters:
            table.add_row(
                clock(letter.get("receivedAt")), short_id(letter.get("jobId")), str(letter.get("jobType") or ""),
                str(letter.get("type") or "").removeprefix("dev.observatory."),
                _host(letter.get("knativeerrordest")), str(letter.get("knativeerrorcode") or ""),
                str(letter.get("replayCount") or 0), key=str(letter.get("id")),
            )  # fmt: skip
        more = " · m loads older" if self.next_cursor else ""
        table.border_title = f"Dead letters ({len(self.letters)} shown{more})"
        if not self.letters:
            self._status(Text("✓ no dead letters", "green"))
        self._show_detail(table.cursor_row)

    def on_read_failed(self, message: ReadFailed) -> None:
        self._status(Text(f"⚠ {message.error}", "red"))

    def on_replay_done(self, message: ReplayDone) -> None:
        answer = message.answer
        forced = " (forced)" if answer.get("forced") else ""
        self._status(Text.assemble(
            (f"✓ replayed{forced}: ", "green bold"),
            f"job {answer.get('jobId')} runs again as generation {answer.get('generation')} "
            f"(was {answer.get('previousStatus') or 'unknown'}; replay #{answer.get('replayCount')})",
        ))  # fmt: skip
        self.load()

    def on_replay_refused(self, message: ReplayRefused) -> None:
        if message.status == 409:
            question = "This job already COMPLETED. Run it again anyway (forced replay)?"
            self.app.push_screen(
                ConfirmScreen(question, message.message, yes="Force replay"),
                lambda yes: self._replay_confirmed(message.dead_letter_id, True, yes),
            )
            return
        hint = ""
        if message.status == 401:
            hint = " — set OBSERVATORY_API_TOKEN for `observatory dashboard`"
        self._status(Text.assemble(("✗ replay refused: ", "red bold"), message.message + hint))

    @on(DataTable.RowHighlighted, "#letters")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    @on(DataTable.RowSelected, "#letters")
    def selected(self) -> None:
        self.action_replay()

    def action_replay(self) -> None:
        letter = self._selected()
        if letter is None:
            return
        question = f"Replay the dead letter of job {letter.get('jobId')} ({letter.get('jobType')})?"
        detail = ("The job runs again as a new generation with its original payload."
                  f" It was replayed {letter.get('replayCount') or 0} time(s) before.")  # fmt: skip
        self.app.push_screen(
            ConfirmScreen(question, detail, yes="Replay"),
            lambda yes: self._replay_confirmed(str(letter.get("id")), False, yes),
        )

    def _replay_confirmed(self, letter_id: str, force: bool, yes: bool | None) -> None:
        if yes:
            self._status(Text("⏳ replaying…", "yellow"))
            self.send_replay(letter_id, force)
        else:
            self._status(Text("replay cancelled; nothing changed", "dim"))

    def action_open_job(self) -> None:
        letter = self._selected()
        if letter and letter.get("jobId"):
            host(self).action_open_job(str(letter["jobId"]))

    def action_refresh(self) -> None:
        self.load()

    def action_more(self) -> None:
        if self.next_cursor:
            self.load(self.next_cursor)

    def _selected(self) -> dict[str, Any] | None:
        row = self.query_one("#letters", DataTable).cursor_row
        return self.letters[row] if 0 <= row < len(self.letters) else None

    def _show_detail(self, row: int) -> None:
        if 0 <= row < len(self.letters):
            body = json.dumps(self.letters[row], indent=2, sort_keys=True, default=str)[:5000]
            self.query_one("#letter-detail", Static).update(body)
        else:
            self.query_one("#letter-detail", Static).update("")

    def _status(self, text: Text) -> None:
        self.query_one("#letters-status", Static).update(text)


def _host(url: object) -> str:
    """A destination URL without scheme and trailing slash: the table has no room for more."""
    return str(url or "").removeprefix("http://").removeprefix("https://").rstrip("/")
