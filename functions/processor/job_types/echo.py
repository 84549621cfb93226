"""echo: returns the message unchanged."""

from __future__ import annotations

from typing import Any

TIMEOUT_S = 5.0


async def run(payload: dict[str, Any]) -> dict[str, Any]:
    return {"message": payload["message"]}
