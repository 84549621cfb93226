"""The command palette (ctrl+p): every key's action plus filters, offered by fuzzy search."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.widgets.view_model import JOB_TYPES, STATUSES

Command = tuple[str, str, str]  # (text shown, help line, app action to run)


def commands() -> list[Command]:
    found: list[Command] = [
        ("New job", "pick a type, edit the JSON payload, submit to the gateway", "new_job"),
        ("Dead letters", "list dead letters and replay them", "dead_letters"),
        ("Launcher", "the local UIs with their ports", "launcher"),
        ("Refresh", "read stats, jobs and alerts again", "refresh"),
        ("Help", "every key of every screen", "help"),
        ("Filter: any status", "show jobs of every status", "filter_status('')"),
        ("Filter: any type", "show jobs of every type", "filter_type('')"),
    ]
    found += [(f"Filter: status {s}", f"only {s} jobs", f"filter_status('{s}')") for s in STATUSES]
    found += [(f"Filter: type {t}", f"only {t} jobs", f"filter_type('{t}')") for t in JOB_TYPES]
    found += [
        (f"New {t} job", f"new job screen with a sample {t} payload", f"new_job('{t}')") for t in JOB_TYPES
    ]
    return found


class ObservatoryCommands(Provider):
    def _runner(self, action: str) -> Callable[[], object]:
        return partial(self.app.run_action, action)

    async def discover(self) -> Hits:
        for text, help_text, action in commands()[:5]:
            yield DiscoveryHit(text, self._runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, action in commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(action), text=text, help=help_text)
