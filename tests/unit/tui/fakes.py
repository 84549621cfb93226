"""A read model and a gateway behind ``httpx.MockTransport``: the UI's boundary, answered from memory.

Shapes follow functions/readmodel (views, timeline, replay) and the gateway's contract. The stream sends
its events once per connection and then stays open (like the real one between ticks) until the test ends;
``fail_stream_connects`` makes the first N connections fail as if nothing listened on the port.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tui.app import ObservatoryApp
from tui.client import Endpoints

READ_MODEL = "http://readmodel.test:8080"
GATEWAY = "http://gateway.test:3000"
JOB_A = "aaaaaaaa-1111-4111-8111-111111111111"
JOB_B = "bbbbbbbb-2222-4222-8222-222222222222"
JOB_C = "cccccccc-3333-4333-8333-333333333333"
LETTER = "65f0c0ffee0000000000beef"


def job(
    job_id: str, status: str, job_type: str = "echo", created: str = "2026-01-02T03:04:05Z"
) -> dict[str, Any]:
    return {
        "id": job_id, "type": job_type, "status": status, "generation": 0, "attempts": 1,
        "correlationId": "corr-1", "errorCode": "boom" if status == "FAILED" else None,
        "createdAt": created, "updatedAt": created, "startedAt": created, "finishedAt": created,
        "durationMs": 12.5,
    }  # fmt: skip


STATS: dict[str, Any] = {
    "totals": {"PENDING": 1, "EXECUTING": 0, "COMPLETED": 7, "FAILED": 2, "DEAD_LETTERED": 1, "total": 11},
    "byType": {"echo": 9, "fail": 2},
    "throughput": {"perSecond": [0] * 50 + [1, 3, 5, 2, 0, 0, 4, 6, 1, 0], "lastMinute": 22},
    "latencyMs": {"p50": 4.2, "p95": 18.0, "p99": 41.5, "mean": 6.0},
    "lastEventTime": "2026-01-02T03:04:09Z",
    "deadLetters": 1,
    "runtime": {"services": [{"name": "processor", "desired": 2, "actual": 2, "queued": 3, "panic": False}]},
}


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


@dataclass
class FakeObservatory:
    jobs: list[dict[str, Any]] = field(
        default_factory=lambda: [
            job(JOB_B, "FAILED", "fail", "2026-01-02T03:04:06Z"),
            job(JOB_A, "COMPLETED", "echo", "2026-01-02T03:04:05Z"),
        ]
    )
    stream_jobs: list[dict[str, Any]] = field(default_factory=list)
    fail_stream_connects: int = 0
    stream_connects: int = 0
    letters: list[dict[str, Any]] = field(default_factory=list)
    letter_status: str = "FAILED"  # the job's status when a replay arrives
    requests: list[httpx.Request] = field(default_factory=list)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    replays: list[tuple[str, bool, str | None]] = field(default_factory=list)
    alerts: dict[str, Any] = field(
        default_factory=lambda: {
            "source": "http://alertmanager.test",
            "alerts": [
                {
                    "name": "DeadLettersGrowing",
                    "severity": "critical",
                    "state": "active",
                    "summary": "dead letters grow",
                    "startsAt": "2026-01-02T03:00:00Z",
                },
            ],
        }
    )
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if not self.letters:
            self.letters = [{
                "id": LETTER, "eventId": "evt-1", "jobId": JOB_B, "jobType": "fail", "correlationId": "corr-1",
                "replayCount": 0, "type": "dev.observatory.job.submitted", "source": "/observatory/gateway",
                "knativeerrordest": "http://processor", "knativeerrorcode": 500,
                "receivedAt": "2026-01-02T03:04:08Z",
            }]  # fmt: skip

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def app(self) -> ObservatoryApp:
        return ObservatoryApp(
            Endpoints(READ_MODEL, GATEWAY, token="t0ken"), transport=self.transport(), reconnect_s=0.01
        )

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host == "gateway.test":
            return self._gateway(request)
        if path == "/stats":
            return httpx.Response(200, json=STATS)
        if path == "/jobs":
            return httpx.Response(200, json=self._jobs(request))
        if path == "/alerts":
            return httpx.Response(200, json=self.alerts)
        if path == "/stream":
            return await self._stream(request)
        if path == "/dead-letters":
            return httpx.Response(200, json={"items": self.letters, "nextCursor": None, "limit": 50})
        if path.startswith("/dead-letters/") and path.endswith("/replay"):
            return self._replay(request, path.split("/")[2])
        if path.endswith("/timeline"):
            return self._timeline(path.split("/")[2])
        if path.startswith("/jobs/"):
            found = [j for j in self.jobs if j["id"] == path.split("/")[2]]
            if not found:
                return problem(404, "Not Found", "no job")
            return httpx.Response(
                200, json={**found[0], "payload": {"message": "hi"}, "result": {"echo": "hi"}}
            )
        if request.url.host in ("127.0.0.1", "localhost"):  # launcher probes
            if request.url.port in (8080, 3000):
                return httpx.Response(200, text="ok")
            raise httpx.ConnectError("refused", request=request)
        return problem(404, "Not Found", f"no route {path}")

    def _jobs(self, request: httpx.Request) -> dict[str, Any]:
        params = request.url.params
        items = [
            j for j in self.jobs
            if (not params.get("status") or j["status"] == params["status"])
            and (not params.get("type") or j["type"] == params["type"])
            and (not params.get("q") or params["q"] in j["id"] + j["type"])
        ]  # fmt: skip
        return {"items": items, "nextCursor": None, "limit": 50}

    async def _stream(self, request: httpx.Request) -> httpx.Response:
        self.stream_connects += 1
        if self.stream_connects <= self.fail_stream_connects:
            raise httpx.ConnectError("All connection attempts failed", request=request)
        events = [("stats", STATS)] + [("job", j) for j in self.stream_jobs]

        async def body() -> AsyncIterator[bytes]:
            yield b"retry: 2000\n\n"
            for name, data in events:
                yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            await self.closed.wait()

        return httpx.Response(200, content=body(), headers={"Content-Type": "text/event-stream"})

    def _timeline(self, job_id: str) -> httpx.Response:
        return httpx.Response(200, json={
            "jobId": job_id, "status": "COMPLETED", "generation": 0,
            "entries": [
                {"time": "2026-01-02T03:04:05Z", "store": "postgresql", "what": "row created",
                 "detail": {"status": "COMPLETED", "generation": 0, "attempts": 1}},
                {"time": "2026-01-02T03:04:05.1Z", "store": "audit", "what": "dev.observatory.job.submitted",
                 "detail": {"id": "evt-1", "data": {"jobId": job_id, "type": "echo"}}},
                {"time": "2026-01-02T03:04:05.3Z", "store": "redis", "what": "completed", "detail": None},
            ],
            "verdict": {"consistent": False, "summary": "COMPLETED in PostgreSQL but no completed event in the audit trail",
                        "findings": [{"severity": "error",
                                      "message": "COMPLETED in PostgreSQL but no completed event in the audit trail"}]},
        })  # fmt: skip

    def _gateway(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the launcher's probe
            return httpx.Response(200, json={})
        body = json.loads(request.content)
        self.submitted.append(body)
        if body.get("type") == "sleep" and not isinstance(
            body.get("payload", {}).get("seconds"), int | float
        ):
            return problem(422, "Unprocessable Content", "the payload does not match payloads/sleep",
                           [{"pointer": "/payload/seconds", "message": "'seconds' is a required property"}])  # fmt: skip
        return httpx.Response(
            202, json={"jobId": body.get("id") or JOB_C, "eventId": "evt-42", "status": "PENDING"}
        )

    def _replay(self, request: httpx.Request, letter_id: str) -> httpx.Response:
        force = request.url.params.get("force") == "true"
        self.replays.append((letter_id, force, request.headers.get("authorization")))
        if self.letter_status == "COMPLETED" and not force:
            return problem(409, "Conflict", f"job {JOB_B} already COMPLETED in generation 0; add ?force=true")
        return httpx.Response(202, json={
            "jobId": JOB_B, "generation": 1, "eventId": "evt-99", "deadLetterId": letter_id,
            "previousStatus": self.letter_status, "replayCount": 1, "forced": force,
        })  # fmt: skip
