"""The Textual client: watch jobs live, open their timelines, submit jobs, replay dead letters.

It reads only over HTTP (``tui.client``): the read model for everything it shows, the gateway to submit.
Screens live in ``tui/screens``, dashboard areas in ``tui/widgets``, styles in ``app.tcss``.
"""

from __future__ import annotations

import httpx
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from tui.client import Endpoints, ObservatoryClient
from tui.screens.commands import ObservatoryCommands
from tui.screens.dashboard import DashboardScreen
from tui.screens.dead_letters import DeadLettersScreen
from tui.screens.help import HelpScreen
from tui.screens.job_detail import JobDetailScreen
from tui.screens.launcher import LauncherScreen
from tui.screens.new_job import NewJobScreen


class ObservatoryApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Task Observatory"
    COMMANDS = App.COMMANDS | {ObservatoryCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        reconnect_s: float = 1.0,
        stream_interval_s: float | None = None,
    ) -> None:
        super().__init__()
        self.client = ObservatoryClient(endpoints, transport)
        self.reconnect_s = reconnect_s
        self.stream_interval_s = stream_interval_s

    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen()

    async def on_unmount(self) -> None:
        await self.client.aclose()

    @property
    def dashboard(self) -> DashboardScreen:
        found = self.screen_stack[0]
        assert isinstance(found, DashboardScreen)
        return found

    def _push_once(self, screen: Screen[None]) -> None:
        if type(self.screen) is not type(screen) or isinstance(screen, JobDetailScreen):
            self.push_screen(screen)

    def _back_to_dashboard(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_new_job(self, job_type: str = "echo") -> None:
        self._push_once(NewJobScreen(job_type))

    def action_dead_letters(self) -> None:
        self._push_once(DeadLettersScreen())

    def action_launcher(self) -> None:
        self._push_once(LauncherScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_open_job(self, job_id: str) -> None:
        self.push_screen(JobDetailScreen(job_id))

    def action_refresh(self) -> None:
        refresh = getattr(self.screen, "action_refresh", None)
        if callable(refresh):
            refresh()

    def action_filter_status(self, status: str) -> None:
        self._back_to_dashboard()
        self.dashboard.apply_status(status or None)

    def action_filter_type(self, job_type: str) -> None:
        self._back_to_dashboard()
        self.dashboard.apply_type(job_type or None)
