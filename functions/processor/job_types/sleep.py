"""sleep: waits the given number of seconds (the schema bounds it to 30), then completes."""

from __future__ import annotations

import asyncio
from typing import Any

# Above the schema's 30 s maximum, so only a stuck job (or a scaled-down timeout) times out.
TIMEOUT_S = 35.0


async def run(payload: dict[str, Any]) -> dict[str, Any]:
    seconds = float(payload["seconds"])
    await asyncio.sleep(seconds)
    return {"slept": seconds}
