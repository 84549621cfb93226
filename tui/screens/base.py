"""What every screen needs from the app: its client and settings, without importing the app module."""

from __future__ import annotations

from typing import Any, Protocol, cast

from textual.screen import Screen

from tui.client import ObservatoryClient


class HostApp(Protocol):
    client: ObservatoryClient
    reconnect_s: float
    stream_interval_s: float | None

    def action_open_job(self, job_id: str) -> None: ...


def host(screen: Screen[Any]) -> HostApp:
    return cast(HostApp, screen.app)
