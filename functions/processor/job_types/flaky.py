"""flaky: fails with probability ``failureRate`` on each attempt, with a retryable error."""

from __future__ import annotations

import random
from typing import Any

from functions.processor.errors import JobFailure

TIMEOUT_S = 5.0


async def run(payload: dict[str, Any]) -> dict[str, Any]:
    rate = float(payload["failureRate"])
    roll = random.random()
    if roll < rate:
        raise JobFailure(
            "flaky", str(payload.get("message", f"failed with probability {rate}")), retryable=True
        )
    return {"failureRate": rate, "roll": roll}
