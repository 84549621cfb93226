"""Pilot helpers: the screen as text, and waiting for a condition by letting the app process messages.

``until`` counts message-loop turns, not seconds: it fails when the UI never gets there, and never
because a machine was slow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tui.app import ObservatoryApp

SIZE = (120, 40)
TURNS = 400


def screen_text(pilot: Pilot[Any]) -> str:
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    for _ in range(TURNS):
        if condition():
            return
        await pilot.pause()
    raise AssertionError(f"the UI never got there: {what}\n--- screen ---\n{screen_text(pilot)}")


async def until_text(pilot: Pilot[Any], text: str) -> str:
    await until(pilot, lambda: text in screen_text(pilot), f"{text!r} on screen")
    return screen_text(pilot)


def observatory(pilot: Pilot[Any]) -> ObservatoryApp:
    assert isinstance(pilot.app, ObservatoryApp)
    return pilot.app
