"""Admission of requests to a Service's instances: the queue-proxy breaker and the activator buffer in one gate.

Knative puts two throttles in a request's path. The queue-proxy beside each pod admits
``containerConcurrency`` (cc) requests and queues up to 10xcc more, then answers 503 "pending request
queue full". The activator sits in front while a revision is at zero (or short of capacity), holds up to
10000 requests, pokes the autoscaler on the first one, and forwards them as pods become ready.
Locally both roles act on the same set of endpoints, so one gate does both jobs:

* an endpoint with a free slot (``in_flight < cc``, or any endpoint when cc is 0) takes the request at
  once; among several, the one with the fewest requests in flight wins (least-loaded balancing);
* otherwise the request waits in one FIFO queue for the whole instance set. Its bound is 10xcc per
  routable endpoint while there are endpoints, and the activator's 10000 while there are none;
* a wait longer than the Service's ``timeoutSeconds`` ends in ``AdmissionTimeout``.

Endpoints are plain values the router and the supervisor share; the gate never talks to the network.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "ACTIVATOR_QUEUE_DEPTH",
    "QUEUE_DEPTH_PER_SLOT",
    "AdmissionError",
    "AdmissionTimeout",
    "Endpoint",
    "Gate",
    "QueueFull",
]

# Knative's constants: queue-proxy's queue depth is 10 x containerConcurrency (pkg/queue/sharedmain),
# the activator's breaker holds 10000 requests (pkg/activator/net/throttler.go breakerQueueDepth).
QUEUE_DEPTH_PER_SLOT = 10
ACTIVATOR_QUEUE_DEPTH = 10_000


class AdmissionError(Exception):
    """A request the gate could not hand to an instance."""


class QueueFull(AdmissionError):
    """Every slot and every queue place is taken (Knative answers 503 "pending request queue full")."""


class AdmissionTimeout(AdmissionError):
    """No instance had room within the Service's timeout (for instance a scale-from-zero that never became ready)."""


@dataclass(eq=False)
class Endpoint:
    """One ready function instance as the router sees it."""

    service: str
    name: str
    url: str
    in_flight: int = 0
    draining: bool = False
    served: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()


class Gate:
    """Hands each request an endpoint with a free slot, queueing (bounded) when there is none."""

    def __init__(
        self, container_concurrency: int, on_first_waiter: Callable[[], None] = lambda: None
    ) -> None:
        self.cc = container_concurrency
        self._endpoints: list[Endpoint] = []
        self._waiters: collections.deque[asyncio.Future[Endpoint]] = collections.deque()
        # Called when a request has to wait while no endpoint exists: the autoscaler's Poke.
        self._on_first_waiter = on_first_waiter

    # -- endpoint set (called by the supervisor through the router) --------------------------------

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(self._endpoints)

    @property
    def routable(self) -> list[Endpoint]:
        return [e for e in self._endpoints if not e.draining]

    @property
    def queued(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def add(self, endpoint: Endpoint) -> None:
        self._endpoints.append(endpoint)
        self._wake()

    def remove(self, endpoint: Endpoint) -> None:
        if endpoint in self._endpoints:
            self._endpoints.remove(endpoint)

    def start_draining(self, endpoint: Endpoint) -> None:
        """Stop giving ``endpoint`` new requests; requests already on it finish normally."""
        endpoint.draining = True

    # -- admission -------------------------------------------------------------------------------

    def queue_limit(self) -> int:
        routable = len(self.routable)
        if routable == 0:
            return ACTIVATOR_QUEUE_DEPTH
        if self.cc == 0:
            return ACTIVATOR_QUEUE_DEPTH  # only reached while every endpoint is draining or being replaced
        return QUEUE_DEPTH_PER_SLOT * self.cc * routable

    async def acquire(self, wait_s: float) -> Endpoint:
        """An endpoint with one slot taken for the caller, who must call ``release`` when the response ends."""
        if not self._waiters:
            endpoint = self._pick()
            if endpoint is not None:
                self._take(endpoint)
                return endpoint
        if self.queued >= self.queue_limit():
            raise QueueFull("pending request queue full")
        future: asyncio.Future[Endpoint] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        if not self.routable:
            self._on_first_waiter()
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait_s)
        except TimeoutError:
            if future.done() and not future.cancelled():
                return future.result()  # won the race with the timeout: keep the slot
            future.cancel()
            raise AdmissionTimeout(f"no instance had room within {wait_s:g}s") from None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(future.result())
            future.cancel()
            raise
        finally:
            self._forget_done()

    def release(self, endpoint: Endpoint) -> None:
        endpoint.in_flight -= 1
        if endpoint.in_flight == 0:
            endpoint.idle.set()
        self._wake()

    def _take(self, endpoint: Endpoint) -> None:
        endpoint.in_flight += 1
        endpoint.served += 1
        endpoint.idle.clear()

    def _pick(self) -> Endpoint | None:
        best: Endpoint | None = None
        for endpoint in self._endpoints:
            if endpoint.draining or (self.cc and endpoint.in_flight >= self.cc):
                continue
            if best is None or endpoint.in_flight < best.in_flight:
                best = endpoint
        return best

    def _wake(self) -> None:
        while self._waiters:
            head = self._waiters[0]
            if head.done():
                self._waiters.popleft()
                continue
            endpoint = self._pick()
            if endpoint is None:
                return
            self._waiters.popleft()
            self._take(endpoint)
            head.set_result(endpoint)

    def _forget_done(self) -> None:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
