"""? — every key of every screen, and where the data comes from."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Task Observatory — keys

| where | key | does |
|---|---|---|
| everywhere | `q` | quit (nothing stops: the runtime keeps running) |
| everywhere | `?` | this help |
| everywhere | `ctrl+p` | command palette: every action, filters, screens |
| dashboard | `n` | new job |
| dashboard | `d` | dead letters |
| dashboard | `l` | launcher: the local UIs and their ports |
| dashboard | `/` | search jobs by id, type or payload (3+ characters) |
| dashboard | `enter` | open the selected job: timeline and consistency verdict |
| dashboard | `r` | refresh stats, jobs and alerts |
| dashboard | `m` | load older rows (keyset pages) |
| job | `r` / `esc` | refresh / back |
| new job | `ctrl+s` / `ctrl+o` | submit / open the accepted job |
| dead letters | `p` or `enter` | replay (asks first; a completed job asks again to force) |
| dead letters | `o` | open the dead letter's job |
| launcher | `enter` / `r` | open in a browser / probe again |

The jobs table follows the read model's `/stream` (Server-Sent Events): stats every second and one
event per changed job. When the stream drops, the status bar says why and it reconnects by itself.
Everything here is read over HTTP from the read model; jobs are submitted to the gateway.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
