"""The KPA decision (Knative's ``autoscaler.Scale``): averages in, desired instance count out.

Run every tick (2 s) and on a poke. Inputs are revision-wide totals: ``stable_avg``/``panic_avg`` are the
window averages of in-flight requests summed over all instances (or requests per second for ``rps``).

    dspc = ceil(stable / target)        dppc = ceil(panic / target)        (unclamped)
    each clamped to [floor(ready / max_scale_down_rate), ceil(max_scale_up_rate * ready)], ready >= 1
    panic while dppc / ready >= panic_threshold; leave after a full stable window below it
    in panic: desired = max(stable, panic) and never lower than the panic high-water mark

Example (vector in the tests): target 1, max_scale_up_rate 1.1, 2 ready, stable 3 -> ceil(3/1) = 3 and
ceil(1.1 * 2) = 3, so 3 instances; rounding the rate limit up lets a slow rate still add one instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from knlocal.serving.kpa.config import DeciderSpec
from knlocal.serving.kpa.window import MaxWindow

__all__ = ["DeciderState", "ScaleResult", "decide", "initial_ebc", "should_poke"]

TICK_INTERVAL_S = 2.0


@dataclass(frozen=True)
class ScaleResult:
    """``desired`` instances and excess burst capacity; ``valid`` is False when there was no data."""

    desired: int
    ebc: int
    valid: bool = True


INVALID = ScaleResult(desired=0, ebc=0, valid=False)


@dataclass(frozen=True)
class DeciderState:
    panic_time: float | None = None  # last tick that was over the panic threshold
    max_panic_pods: int = 0
    delay_window: MaxWindow | None = None

    @classmethod
    def initial(cls, spec: DeciderSpec, now: float, ready: int) -> DeciderState:
        """A new decider over a revision with more than one ready instance starts in panic at that count,
        so losing metric history (a restart) never scales it down before data arrives."""
        window = MaxWindow(spec.scale_down_delay_s, TICK_INTERVAL_S) if spec.scale_down_delay_s > 0 else None
        if ready > 1:
            return cls(panic_time=now, max_panic_pods=ready, delay_window=window)
        return cls(delay_window=window)

    @property
    def panicking(self) -> bool:
        return self.panic_time is not None


def decide(
    spec: DeciderSpec,
    state: DeciderState,
    now: float,
    ready: int,
    stable_avg: float | None,
    panic_avg: float | None,
) -> tuple[ScaleResult, DeciderState]:
    """One decision. ``stable_avg``/``panic_avg`` of None means no data yet: an invalid result, no change."""
    if stable_avg is None or panic_avg is None:
        return INVALID, state
    ready_f = max(1.0, float(ready))
    max_up = math.ceil(spec.max_scale_up_rate * ready_f)
    max_down = math.floor(ready_f / spec.max_scale_down_rate) if spec.reachable else 0
    dspc = math.ceil(stable_avg / spec.target_value)
    dppc = math.ceil(panic_avg / spec.target_value)
    desired_stable = min(max(dspc, max_down), max_up)
    desired_panic = min(max(dppc, max_down), max_up)
    if spec.activation_scale > 1:
        if dspc > 0:
            desired_stable = max(desired_stable, spec.activation_scale)
        if dppc > 0:
            desired_panic = max(desired_panic, spec.activation_scale)

    panic_time, max_panic = state.panic_time, state.max_panic_pods
    over = dppc / ready_f >= spec.panic_threshold  # the unclamped panic count, as Knative does
    if over:
        panic_time = now  # enter, or extend
    elif panic_time is not None and panic_time + spec.stable_window_s < now:
        panic_time, max_panic = None, 0  # the surge has reached the stable window

    desired = desired_stable
    if panic_time is not None:
        desired = max(desired_stable, desired_panic)
        max_panic = max(max_panic, desired)
        desired = max_panic  # never scale down while panicking

    window = state.delay_window
    if window is not None and spec.reachable:
        window = window.record(now, desired)
        desired = window.current()

    if spec.target_burst_capacity == 0:
        ebc = 0
    elif spec.target_burst_capacity > 0:
        ebc = math.floor(ready * spec.total_value - spec.target_burst_capacity - panic_avg)
    else:
        ebc = -1
    new_state = replace(state, panic_time=panic_time, max_panic_pods=max_panic, delay_window=window)
    return ScaleResult(desired=desired, ebc=ebc), new_state


def initial_ebc(spec: DeciderSpec) -> int:
    """The excess burst capacity announced before the first decision: from initial scale, not from data."""
    if spec.target_burst_capacity == 0:
        return 0
    if spec.target_burst_capacity > 0:
        return int(spec.initial_scale * spec.total_value - spec.target_burst_capacity)
    return -1


def should_poke(last_desired: int, concurrency: float) -> bool:
    """Decide at once (not at the next tick) when a Service at zero sees its first request."""
    return last_desired == 0 and concurrency != 0
