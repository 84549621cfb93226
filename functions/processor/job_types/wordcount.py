"""wordcount: counts the words, lines and characters of a text, like ``wc``."""

from __future__ import annotations

from typing import Any

TIMEOUT_S = 10.0


def run(payload: dict[str, Any]) -> dict[str, Any]:
    text: str = payload["text"]
    return {"words": len(text.split()), "lines": len(text.splitlines()), "characters": len(text)}
