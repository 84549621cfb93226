"""Publishing CloudEvents to ``K_SINK`` (the broker ingress), the Knative way.

A 2xx from the sink means the broker has the event (the RabbitMQ broker ingress answers 202 only after
the publisher confirm). Anything else raises ``SinkUnavailable`` so the caller can answer 503 and the
client can retry: nothing accepted is lost. One pooled keep-alive client per process.
"""

from __future__ import annotations

import httpx

from functions.core.cloudevents import CloudEvent, to_binary_http
from functions.core.errors import ObservatoryError


class SinkUnavailable(ObservatoryError):
    pass


class Sink:
    def __init__(
        self, url: str | None, *, timeout_s: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.url = url
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=2.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )

    async def publish(self, event: CloudEvent) -> None:
        if not self.url:
            raise SinkUnavailable("K_SINK is not set: this function has nowhere to publish")
        headers, body = to_binary_http(event)
        try:
            response = await self._client.post(self.url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise SinkUnavailable(f"broker ingress {self.url} unreachable: {exc.__class__.__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise SinkUnavailable(f"broker ingress answered {response.status_code}: {response.text[:200]}")

    async def close(self) -> None:
        await self._client.aclose()
