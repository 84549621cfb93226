"""Typed messages that the screens' workers post back to the UI thread.

Workers do the HTTP (``tui.client``); handlers only update widgets. Each message carries exactly what a
handler needs, so a test can post one directly and check the screen.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tui.client import ApiProblem


class StatsLoaded(Message):
    def __init__(self, stats: dict[str, Any]) -> None:
        super().__init__()
        self.stats = stats


class JobsLoaded(Message):
    """A page of /jobs; ``append`` when it continues the page already shown (keyset cursor)."""

    def __init__(self, items: list[dict[str, Any]], next_cursor: str | None, append: bool = False) -> None:
        super().__init__()
        self.items = items
        self.next_cursor = next_cursor
        self.append = append


class JobChanged(Message):
    """One ``job`` event of /stream: a row that changed since the previous tick."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__()
        self.job = job


class AlertsLoaded(Message):
    def __init__(self, alerts: dict[str, Any]) -> None:
        super().__init__()
        self.alerts = alerts


class StreamState(Message):
    """The live stream connected (``live``) or dropped; ``detail`` says why and what to do."""

    def __init__(self, live: bool, detail: str = "") -> None:
        super().__init__()
        self.live = live
        self.detail = detail


class ReadFailed(Message):
    """A read failed; ``what`` names the panel whose data is now stale."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class TimelineLoaded(Message):
    def __init__(self, job: dict[str, Any] | None, timeline: dict[str, Any]) -> None:
        super().__init__()
        self.job = job
        self.timeline = timeline


class JobAccepted(Message):
    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer


class JobRefused(Message):
    """The gateway refused (a problem document) or nobody answered (``problem`` is None)."""

    def __init__(self, message: str, problem: ApiProblem | None = None) -> None:
        super().__init__()
        self.message = message
        self.problem = problem


class DeadLettersLoaded(Message):
    def __init__(self, items: list[dict[str, Any]], next_cursor: str | None, append: bool = False) -> None:
        super().__init__()
        self.items = items
        self.next_cursor = next_cursor
        self.append = append


class ReplayDone(Message):
    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer


class ReplayRefused(Message):
    """``status`` 409 means the job completed and a forced replay may be offered."""

    def __init__(self, dead_letter_id: str, message: str, status: int | None) -> None:
        super().__init__()
        self.dead_letter_id = dead_letter_id
        self.message = message
        self.status = status


class ProbesDone(Message):
    """Launcher probes: for each UI, None when it answered HTTP, else why not."""

    def __init__(self, results: list[str | None]) -> None:
        super().__init__()
        self.results = results
