"""HTTP client of the user interfaces: the read model (reads, replay, Server-Sent Events) and the gateway.

No Textual here: the screens call this from their workers, and tests hand it an ``httpx.MockTransport``.
Every failure becomes one of two typed errors: ``Unreachable`` (nothing answered; the message says what to
start) or ``ApiProblem`` (an RFC 9457 answer, with its field errors kept for inline display).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "ApiProblem",
    "ClientError",
    "Endpoints",
    "FieldProblem",
    "ObservatoryClient",
    "SseEvent",
    "SseParser",
    "Unreachable",
]

DEFAULT_READ_MODEL = "http://127.0.0.1:8080"
DEFAULT_GATEWAY = "http://127.0.0.1:3000"
REQUEST_TIMEOUT_S = 5.0
# The read model sends stats every second and a heartbeat every 15 s; silence for longer means it is gone.
STREAM_READ_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 1.5


class ClientError(Exception):
    """Base of what the UI shows in its status bar."""


class Unreachable(ClientError):
    def __init__(self, service: str, url: str, cause: str) -> None:
        super().__init__(f"{service} unreachable at {url} — start it with `observatory up` ({cause})")
        self.service = service
        self.url = url
        self.cause = cause


@dataclass(frozen=True)
class FieldProblem:
    pointer: str
    message: str


class ApiProblem(ClientError):
    """A refused request: status, title, detail and the per-field errors of the problem document."""

    def __init__(
        self, status: int, title: str, detail: str = "", errors: tuple[FieldProblem, ...] = ()
    ) -> None:
        super().__init__(f"HTTP {status} {title}" + (f": {detail}" if detail else ""))
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiProblem:
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return cls(response.status_code, response.reason_phrase or "error", response.text[:200])
        errors = tuple(
            FieldProblem(str(e.get("pointer", "")), str(e.get("message", "")))
            for e in doc.get("errors") or []
            if isinstance(e, dict)
        )
        return cls(
            int(doc.get("status") or response.status_code),
            str(doc.get("title") or response.reason_phrase or "error"),
            str(doc.get("detail") or ""),
            errors,
        )


@dataclass(frozen=True)
class Endpoints:
    read_model: str = DEFAULT_READ_MODEL
    gateway: str = DEFAULT_GATEWAY
    token: str | None = None  # bearer token for replay (OBSERVATORY_API_TOKEN)

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_model", self.read_model.rstrip("/"))
        object.__setattr__(self, "gateway", self.gateway.rstrip("/"))


# -- Server-Sent Events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    name: str
    data: Any  # the decoded JSON of the data field, or the raw text when it is not JSON
    event_id: str | None = None


@dataclass
class SseParser:
    """text/event-stream lines → events, per the WHATWG rules the read model follows. Pure."""

    retry_ms: int | None = None
    _name: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> SseEvent | None:
        line = line.rstrip("\r\n")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            self._name = value
        elif key == "data":
            self._data.append(value)
        elif key == "id":
            self._id = value or None
        elif key == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._name = ""
            return None
        text = "\n".join(self._data)
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = text
        found = SseEvent(self._name or "message", data, self._id)
        self._name, self._data = "", []
        return found


# -- the client ----------------------------------------------------------------------------------------


class ObservatoryClient:
    """One ``httpx.AsyncClient`` for both services; pass ``transport`` to test without a network."""

    def __init__(self, endpoints: Endpoints, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.endpoints = endpoints
        self._http = httpx.AsyncClient(transport=transport, timeout=REQUEST_TIMEOUT_S)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        base = self.endpoints.read_model if service == "read model" else self.endpoints.gateway
        try:
            response = await self._http.request(
                method, base + path, params=params, json=json_body, headers=headers
            )
        except httpx.TransportError as exc:
            raise Unreachable(service, base, _cause(exc)) from exc
        if response.status_code >= 400:
            raise ApiProblem.from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiProblem(response.status_code, "answer is not JSON", response.text[:200]) from exc

    async def _read(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        doc = await self._request("read model", "GET", path, params=params)
        if not isinstance(doc, dict):
            raise ApiProblem(200, "unexpected answer", f"{path} did not answer a JSON object")
        return doc

    async def stats(self) -> dict[str, Any]:
        return await self._read("/stats")

    async def jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        params = {"limit": str(limit)}
        for name, value in (("status", status), ("type", job_type), ("q", q), ("cursor", cursor)):
            if value:
                params[name] = value
        return await self._read("/jobs", params)

    async def recent(self) -> list[dict[str, Any]]:
        items = (await self._read("/jobs/recent")).get("items")
        return list(items) if isinstance(items, list) else []

    async def job(self, job_id: str) -> dict[str, Any]:
        return await self._read(f"/jobs/{job_id}")

    async def timeline(self, job_id: str) -> dict[str, Any]:
        return await self._read(f"/jobs/{job_id}/timeline")

    async def events(self, job_id: str | None = None, limit: int = 50) -> dict[str, Any]:
        params = {"limit": str(limit), **({"jobId": job_id} if job_id else {})}
        return await self._read("/events", params)

    async def dead_letters(self, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        return await self._read("/dead-letters", params)

    async def alerts(self) -> dict[str, Any]:
        return await self._read("/alerts")

    async def replay(self, dead_letter_id: str, *, force: bool = False) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.endpoints.token}"} if self.endpoints.token else {}
        params = {"force": "true"} if force else None
        doc = await self._request(
            "read model", "POST", f"/dead-letters/{dead_letter_id}/replay", params=params, headers=headers
        )
        return dict(doc) if isinstance(doc, dict) else {}

    async def submit(
        self, job_type: str, payload: Mapping[str, Any], job_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": job_type, "payload": dict(payload)}
        if job_id:
            body["id"] = job_id
        doc = await self._request("gateway", "POST", "/jobs", json_body=body)
        return dict(doc) if isinstance(doc, dict) else {}

    async def stream(self, interval_s: float | None = None) -> AsyncIterator[SseEvent]:
        """The read model's /stream until it ends; raises ``Unreachable`` when it cannot connect or breaks."""
        url = self.endpoints.read_model + "/stream"
        params = {"interval": f"{interval_s:g}"} if interval_s else None
        timeout = httpx.Timeout(REQUEST_TIMEOUT_S, read=STREAM_READ_TIMEOUT_S)
        parser = SseParser()
        try:
            async with self._http.stream(
                "GET", url, params=params, timeout=timeout, headers={"Accept": "text/event-stream"}
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise ApiProblem.from_response(response)
                async for line in response.aiter_lines():
                    found = parser.feed(line)
                    if found is not None:
                        yield found
                tail = parser.feed("")
                if tail is not None:
                    yield tail
        except httpx.TransportError as exc:
            raise Unreachable("read model", self.endpoints.read_model, _cause(exc)) from exc

    async def probe(self, url: str) -> str | None:
        """None when ``url`` answers HTTP (any status), else why not. Says nothing about health."""
        try:
            await self._http.get(url, timeout=PROBE_TIMEOUT_S)
        except httpx.TransportError as exc:
            return _cause(exc)
        return None

    async def probe_all(self, urls: list[str]) -> list[str | None]:
        return list(await asyncio.gather(*(self.probe(u) for u in urls)))


def _cause(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return exc.__class__.__name__
