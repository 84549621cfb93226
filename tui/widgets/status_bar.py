"""One line above the footer: is the live stream connected, and if not, what to do about it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    def set_live(self, detail: str) -> None:
        self.set_classes("live")
        self.update(Text.assemble(("● live ", "green bold"), detail))

    def set_problem(self, detail: str) -> None:
        self.set_classes("problem")
        self.update(Text.assemble(("● ", "red bold"), detail))

    def set_note(self, detail: str) -> None:
        self.set_classes("note")
        self.update(Text.assemble(("● ", "yellow"), detail))
