"""The runtime's admin port: its whole state as JSON, for ``observatory status``, the read model and tests.

``GET /`` (or ``/status``) answers the document ``Runtime.snapshot()`` builds; ``GET /healthz`` answers
200 while the process runs, ``GET /readyz`` 200 once every min-scale Service has its instances ready and
the broker is connected (503 with the same document before). ``GET /metrics`` is the same document in
Prometheus' text format (what the dashboard and ``platform/observability/METRICS.md`` call ``knlocal_*``).
Loopback only, read-only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from knlocal.serving.router import LoopbackServer, Receive, Scope, Send

__all__ = ["AdminServer", "prometheus_text"]

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
        elif path == "/metrics":
            await _send_text(send, prometheus_text(self._snapshot()))
        elif path == "/readyz":
            doc = self._snapshot()
            await _send(send, 200 if doc.get("ready") else 503, doc)
        else:
            await _send(
                send,
                404,
                {"title": "Not Found", "status": 404, "detail": f"{path}: try /, /readyz or /metrics"},
            )


# Dispatcher counters from the snapshot: (key, metric, help).
_DISPATCHER_COUNTERS = (
    ("delivered", "knlocal_dispatcher_delivered_total", "Events a Trigger's dispatcher delivered (2xx)."),
    ("retried", "knlocal_dispatcher_retried_total", "Deliveries that failed and were scheduled again."),
    (
        "dead_lettered",
        "knlocal_dispatcher_dead_lettered_total",
        "Events sent to the dead-letter sink's queue.",
    ),
    ("dropped", "knlocal_dispatcher_dropped_total", "Events given up without a dead-letter sink."),
    ("replies", "knlocal_dispatcher_replies_total", "Reply events published back to the broker."),
    ("redelivered", "knlocal_dispatcher_redelivered_total", "Messages RabbitMQ delivered again."),
)


def prometheus_text(doc: dict[str, Any]) -> str:
    """The runtime snapshot as Prometheus text exposition (version 0.0.4)."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{inner}}} {_number(value)}" if inner else f"{name} {_number(value)}")

    services = doc.get("services") or []
    family(
        "knlocal_instances",
        "gauge",
        "Instances per Service: desired (autoscaler), actual (starting or ready), ready (serving).",
        [
            ({"service": str(s["name"]), "state": state}, float(s[state]))
            for s in services
            for state in ("desired", "actual", "ready")
            if isinstance(s.get(state), int | float)
        ],
    )
    family(
        "knlocal_instance_restarts_total",
        "counter",
        "Instances replaced after exiting unasked.",
        [({"service": str(s["name"])}, float(s["restarts"])) for s in services if "restarts" in s],
    )
    dispatchers = (doc.get("broker") or {}).get("dispatchers") or []
    family(
        "knlocal_queue_depth",
        "gauge",
        "Ready messages in each Trigger's queue (polled).",
        [
            ({"trigger": str(d["name"])}, float(d["queue_depth"]))
            for d in dispatchers
            if d.get("queue_depth") is not None
        ],
    )
    family(
        "knlocal_dispatcher_in_flight",
        "gauge",
        "Deliveries in progress per Trigger.",
        [({"trigger": str(d["name"])}, float(d.get("in_flight", 0))) for d in dispatchers],
    )
    for key, name, help_text in _DISPATCHER_COUNTERS:
        family(
            name,
            "counter",
            help_text,
            [({"trigger": str(d["name"])}, float(d.get(key, 0))) for d in dispatchers],
        )
    ingress = (doc.get("broker") or {}).get("ingress") or {}
    family(
        "knlocal_ingress_events_total",
        "counter",
        "Events POSTed to the broker ingress, by outcome.",
        [({"outcome": k}, float(ingress[k])) for k in ("accepted", "invalid", "unavailable") if k in ingress],
    )
    return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


async def _send_text(send: Send, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


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
