"""fail: always fails; ``retryable`` chooses between a broker retry and an immediate FAILED."""

from __future__ import annotations

from typing import Any

from functions.processor.errors import JobFailure

TIMEOUT_S = 5.0


async def run(payload: dict[str, Any]) -> dict[str, Any]:
    retryable = bool(payload.get("retryable", False))
    message = str(payload.get("message", "this job always fails"))
    raise JobFailure("requested_failure", message, retryable=retryable)
