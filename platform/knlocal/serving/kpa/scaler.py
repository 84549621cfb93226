"""Applying a decision (Knative's ``kpa/scaler.go`` ``scale`` + the mode and Active condition of ``kpa.go``).

``reconcile`` takes the decider's desired count and returns how many instances to run, whether the
activator (the local router's buffering role) must stay in the request path, and when to look again.
Pure: the caller passes ``now`` and the ready-instance count and keeps the returned ``ScalerState``.

Scale-to-zero with defaults (stable window 60 s, grace 30 s):

1. The decider answers 0 only after a whole stable window without requests.
2. While the Service is *Active*, a 0 is held at 1 instance until it has been Active for a stable window,
   then the Service is marked *Inactive* (proxy mode: requests would now go through the activator).
3. While *Inactive*, it scales to 0 once it has been inactive for max(grace, pod retention), or earlier
   if retention has passed and the activator has been in the path (proxy mode) for the grace period.
   Small Services usually are in proxy mode all along (target-burst-capacity 211 exceeds their spare
   capacity), so the last instance often goes right after deactivation, as on a cluster.
4. *Activating* (waiting for a first ready instance) longer than progress-deadline + 30 s gives up: 0.

Locally the activator is always reachable, so Knative's activator probe before step 3 always succeeds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from knlocal.serving.kpa.config import DeciderSpec

__all__ = ["SCALE_UNKNOWN", "Activity", "ScaleDecision", "ScalerState", "apply_bounds", "reconcile"]

SCALE_UNKNOWN = -1
_PROXY_RECHECK_S = 3.0  # Knative re-enqueues after 3 s when already in proxy mode at deactivation


class Activity(enum.StrEnum):
    ACTIVATING = "Activating"  # Active=Unknown: waiting for instances ("Queued")
    ACTIVE = "Active"
    INACTIVE = "Inactive"  # "NoTraffic"


@dataclass(frozen=True)
class ScalerState:
    activity: Activity
    since: float  # when ``activity`` last changed
    instances: int  # the replica count last applied
    initialized: bool = False  # reached initial scale once (ScaleTargetInitialized)
    proxy_since: float | None = None  # activator in the path since; None = serving directly

    @classmethod
    def initial(cls, spec: DeciderSpec, now: float) -> ScalerState:
        """A new Service: created with ``initial_scale`` instances, Activating, behind the activator."""
        return cls(Activity.ACTIVATING, since=now, instances=spec.initial_scale, proxy_since=now)

    def active_for(self, now: float) -> float:
        return now - self.since if self.activity is Activity.ACTIVE else -1.0

    def inactive_for(self, now: float) -> float:
        return now - self.since if self.activity is Activity.INACTIVE else -1.0


@dataclass(frozen=True)
class ScaleDecision:
    instances: int  # how many instances to run now
    proxy: bool  # keep the activator (buffering router) in the request path
    want: int  # the bounded, gated desired scale; SCALE_UNKNOWN (-1) before metrics exist
    recheck_after_s: float | None = None  # reconcile again after this long even without a new decision


def apply_bounds(lo: int, hi: int, x: int) -> int:
    """Clamp to [lo, hi]; hi 0 means unbounded."""
    if x < lo:
        return lo
    if hi != 0 and x > hi:
        return hi
    return x


def reconcile(
    spec: DeciderSpec, state: ScalerState, now: float, desired: int, ebc: int, ready: int
) -> tuple[ScaleDecision, ScalerState]:
    """One reconciliation: ``desired`` from the decider (-1 when unknown), ``ready`` instances ready now."""
    want, apply, recheck = _scale(spec, state, now, desired)
    instances = want if apply else state.instances

    # Activator in the path: at zero, short of burst capacity, or unknown while inactive.
    proxy = want == 0 or ebc < 0 or (want == SCALE_UNKNOWN and state.activity is Activity.INACTIVE)
    proxy_since = (state.proxy_since if state.proxy_since is not None else now) if proxy else None

    activity, initialized = _active_condition(spec, state, want, ready)
    since = state.since if activity is state.activity else now
    new_state = replace(
        state,
        activity=activity,
        since=since,
        instances=instances,
        initialized=initialized,
        proxy_since=proxy_since,
    )
    return ScaleDecision(instances=instances, proxy=proxy, want=want, recheck_after_s=recheck), new_state


def _scale(spec: DeciderSpec, state: ScalerState, now: float, desired: int) -> tuple[int, bool, float | None]:
    if desired < 0 and state.activity is not Activity.ACTIVATING:
        return desired, False, None  # metrics not collected yet
    lo, hi = spec.bounds()
    if spec.initial_scale > 1 and not state.initialized:
        lo = max(spec.initial_scale, lo)
    return _scale_to_zero(spec, state, now, apply_bounds(lo, hi, desired))


def _scale_to_zero(
    spec: DeciderSpec, state: ScalerState, now: float, desired: int
) -> tuple[int, bool, float | None]:
    if desired != 0:
        return desired, True, None
    if not spec.enable_scale_to_zero:
        return 1, True, None
    if state.activity is Activity.ACTIVATING:
        elapsed = now - state.since
        if elapsed >= spec.activation_timeout_s:
            return 0, True, None  # never became ready: give up
        return SCALE_UNKNOWN, False, spec.activation_timeout_s - elapsed
    if state.activity is Activity.ACTIVE:
        active_for = state.active_for(now)
        if active_for >= spec.stable_window_s:
            # Deactivate (the caller marks it Inactive) without scaling yet.
            return 0, False, _PROXY_RECHECK_S if state.proxy_since is not None else None
        return 1, True, spec.stable_window_s - active_for
    inactive_for = state.inactive_for(now)
    retention = spec.scale_to_zero_pod_retention_s
    if inactive_for >= max(spec.scale_to_zero_grace_s, retention):
        return 0, True, None
    if retention > 0 and inactive_for < retention:
        return 0, False, retention - inactive_for
    proxy_for = now - state.proxy_since if state.proxy_since is not None else 0.0
    wait = spec.scale_to_zero_grace_s - proxy_for
    if wait <= 0:
        return 0, True, None  # the activator has been in the path long enough already
    return 0, False, wait


def _active_condition(spec: DeciderSpec, state: ScalerState, want: int, ready: int) -> tuple[Activity, bool]:
    lo, _ = spec.bounds()
    min_ready = max(spec.initial_scale, lo) if not state.initialized else max(lo, 1)
    inactive = state.activity is Activity.INACTIVE
    if want == 0 or min_ready == 0:
        return Activity.INACTIVE, state.initialized
    if ready < min_ready:
        if want > 0 or not inactive:
            return Activity.ACTIVATING, state.initialized
        return Activity.INACTIVE, state.initialized
    if want > 0 or not inactive:
        return Activity.ACTIVE, True
    return state.activity, state.initialized
