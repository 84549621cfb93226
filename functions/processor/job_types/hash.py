"""hash: CPU work. Hashes the data, feeding each digest into the next round; returns the last hex digest.

``run`` is deliberately synchronous: the processor runs it in a worker thread.
"""

from __future__ import annotations

import hashlib
from typing import Any

TIMEOUT_S = 30.0


def run(payload: dict[str, Any]) -> dict[str, Any]:
    algorithm = str(payload.get("algorithm", "sha256"))
    rounds = int(payload.get("rounds", 1))
    digest = payload["data"].encode("utf-8")
    for _ in range(rounds):
        digest = hashlib.new(algorithm, digest).digest()
    return {"algorithm": algorithm, "rounds": rounds, "digest": digest.hex()}
