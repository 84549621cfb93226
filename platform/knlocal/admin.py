"""The runtime's admin port: its whole state as JSON, for ``observatory status``, the read model and tests.

``GET /`` (or ``/status``) answers the document ``Runtime.snapshot()`` builds; ``GET /healthz`` answers
200 while the process runs, ``GET /readyz`` 200 once every min-scale Service has its instances ready and
the broker is connected (503 with the same document before). Loopback only, read-only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from knlocal.serving.router import LoopbackServer, Receive, Scope, Send

__all__ = ["AdminServer"]

Snapshot = Callable[[], dict[str, Any]]


class AdminServer:
    def __init__(self, snapshot: Snapshot, port: int) -> None:
        self._snapshot = snapshot
        self._server = LoopbackServer(self, port, "admin")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    async def start(self) -> int:
        return await self._server.start()

    async def stop(self) -> None:
        await self._server.stop(grace=2.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"].rstrip("/") or "/", scope["method"]
        if method not in ("GET", "HEAD"):
            await _send(
                send,
                405,
                {"title": "Method Not Allowed", "status": 405, "detail": "the admin port is read-only"},
            )
        elif path == "/healthz":
            await _send(send, 200, {"status": "ok"})
        elif path in ("/", "/status"):
            await _send(send, 200, self._snapshot())
        elif path == "/readyz":
            doc = self._snapshot()
            await _send(send, 200 if doc.get("ready") else 503, doc)
        else:
            await _send(
                send, 404, {"title": "Not Found", "status": 404, "detail": f"{path}: try / or /readyz"}
            )


async def _send(send: Send, status: int, doc: dict[str, Any]) -> None:
    body = json.dumps(doc, indent=1, default=str).encode()
    ctype = b"application/problem+json" if status >= 400 and "title" in doc else b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
