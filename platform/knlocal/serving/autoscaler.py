"""The KPA's I/O loop: sample the routers each second, decide each tick, tell the supervisor.

Knative scrapes every pod once a second into 1-second buckets and runs the decider every 2 s (and at once
when a revision at zero sees its first request). Here the routers already see every request, so each
second the loop takes each router's time-averaged concurrency (or request rate, for ``metric: rps``) and
records it into the Service's stable and panic windows; every ``tick_interval`` it runs the pure decider
(``kpa.decider.decide``) and the pure scaler gating (``kpa.scaler.reconcile``) and sets the supervisor's
desired count. Zeros are recorded too: an idle Service must see its average fall to zero to scale down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from knlocal.serving.kpa.buckets import MetricWindows
from knlocal.serving.kpa.config import DeciderSpec
from knlocal.serving.kpa.decider import DeciderState, ScaleResult, decide, initial_ebc, should_poke
from knlocal.serving.kpa.scaler import SCALE_UNKNOWN, ScaleDecision, ScalerState, reconcile

__all__ = ["Autoscaler", "Meter", "Scaled"]

SAMPLE_INTERVAL_S = 1.0


class Meter(Protocol):
    def sample(self) -> tuple[float, int]: ...


class Scaled(Protocol):
    """The supervisor as the autoscaler sees it."""

    def ready_count(self, service: str) -> int: ...

    def set_desired(self, service: str, count: int) -> None: ...


@dataclass
class _ServiceLoop:
    name: str
    spec: DeciderSpec
    meter: Meter
    windows: MetricWindows
    decider: DeciderState
    scaler: ScalerState
    last_desired: int = SCALE_UNKNOWN
    last_result: ScaleResult | None = None
    decision: ScaleDecision | None = None
    averages: tuple[float, float] | None = None


class Autoscaler:
    def __init__(
        self,
        specs: Mapping[str, DeciderSpec],
        meters: Mapping[str, Meter],
        supervisor: Scaled,
        *,
        tick_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._supervisor = supervisor
        self._tick_s = tick_interval_s
        now = clock()
        self._loops = {
            name: _ServiceLoop(
                name=name,
                spec=spec,
                meter=meters[name],
                windows=MetricWindows(
                    spec.stable_window_s, spec.panic_window_s, spec.aggregation != "linear"
                ),
                decider=DeciderState.initial(spec, now, 0),
                scaler=ScalerState.initial(spec, now),
            )
            for name, spec in specs.items()
        }
        self._task: asyncio.Task[None] | None = None
        self._last_sample = now

    def start(self) -> None:
        """Ask for each Service's initial scale (Knative creates a revision with ``initial-scale`` pods)."""
        for loop in self._loops.values():
            self._supervisor.set_desired(loop.name, loop.scaler.instances)
        self._task = asyncio.create_task(self._run(), name="autoscaler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def poke(self, service: str) -> None:
        """A request is waiting at zero: record the activator's immediate stat and decide now, not at the tick."""
        loop = self._loops[service]
        # Only the first request at zero: later waiters are in the router's meter already.
        if should_poke(loop.last_desired, 1.0):
            now = self._clock()
            loop.windows.record(now, 1.0)
            self._tick(loop, now)

    async def _run(self) -> None:
        next_tick = self._clock() + self._tick_s
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL_S)
            now = self._clock()
            self._sample(now)
            if now >= next_tick:
                for loop in self._loops.values():
                    self._tick(loop, now)
                next_tick = now + self._tick_s

    def _sample(self, now: float) -> None:
        elapsed = max(now - self._last_sample, 1e-9)
        self._last_sample = now
        for loop in self._loops.values():
            concurrency, requests = loop.meter.sample()
            loop.windows.record(now, requests / elapsed if loop.spec.metric == "rps" else concurrency)

    def _tick(self, loop: _ServiceLoop, now: float) -> None:
        ready = self._supervisor.ready_count(loop.name)
        averages = loop.windows.averages(now)
        loop.averages = averages
        stable, panic = averages if averages is not None else (None, None)
        result, loop.decider = decide(loop.spec, loop.decider, now, ready, stable, panic)
        if result.valid:
            loop.last_result = result
            loop.last_desired = result.desired
        ebc = loop.last_result.ebc if loop.last_result is not None else initial_ebc(loop.spec)
        loop.decision, loop.scaler = reconcile(loop.spec, loop.scaler, now, loop.last_desired, ebc, ready)
        self._supervisor.set_desired(loop.name, loop.decision.instances)

    def status(self, service: str) -> dict[str, Any]:
        loop = self._loops[service]
        decision = loop.decision
        stable, panic = loop.averages if loop.averages is not None else (None, None)
        return {
            "desired": decision.instances if decision is not None else loop.scaler.instances,
            "want": decision.want if decision is not None else SCALE_UNKNOWN,
            "decider_desired": loop.last_desired,
            "panic": loop.decider.panicking,
            "activity": str(loop.scaler.activity),
            "proxy": decision.proxy if decision is not None else True,
            "stable_average": stable,
            "panic_average": panic,
            "excess_burst_capacity": loop.last_result.ebc
            if loop.last_result is not None
            else initial_ebc(loop.spec),
            "target": loop.spec.target_value,
            "metric": loop.spec.metric,
            "stable_window_s": loop.spec.stable_window_s,
            "panic_window_s": loop.spec.panic_window_s,
            "min_scale": loop.spec.min_scale,
            "max_scale": loop.spec.max_scale,
        }
