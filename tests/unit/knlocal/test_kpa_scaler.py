"""knlocal.serving.kpa.scaler: bounds and scale-to-zero gating, alone and as timelines with a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from knlocal.serving.kpa.buckets import MetricWindows
from knlocal.serving.kpa.config import AutoscalerConfig, DeciderSpec, decider_spec
from knlocal.serving.kpa.decider import DeciderState, decide, initial_ebc
from knlocal.serving.kpa.scaler import SCALE_UNKNOWN, Activity, ScalerState, apply_bounds, reconcile

T0 = 1_000_000.0
P = "autoscaling.knative.dev/"


@pytest.mark.parametrize(
    ("lo", "hi", "x", "want"),
    [(0, 0, 5, 5), (2, 0, 1, 2), (0, 3, 5, 3), (1, 3, 2, 2), (0, 0, 0, 0), (1, 0, -1, 1)],
)
def test_apply_bounds(lo: int, hi: int, x: int, want: int) -> None:
    assert apply_bounds(lo, hi, x) == want


def state(
    activity: Activity, since: float, instances: int = 1, proxy_since: float | None = None
) -> ScalerState:
    return ScalerState(activity, since, instances, initialized=True, proxy_since=proxy_since)


BASE = decider_spec({}, 0)


@pytest.mark.parametrize(
    ("label", "spec", "st", "now", "desired", "ebc", "ready", "instances", "proxy", "activity"),
    [
        (
            "unknown while active: nothing",
            BASE,
            state(Activity.ACTIVE, T0),
            T0 + 5,
            -1,
            0,
            1,
            1,
            False,
            Activity.ACTIVE,
        ),
        ("scale up", BASE, state(Activity.ACTIVE, T0), T0 + 5, 4, 5, 1, 4, False, Activity.ACTIVE),
        (
            "negative EBC keeps the activator",
            BASE,
            state(Activity.ACTIVE, T0),
            T0 + 5,
            1,
            -111,
            1,
            1,
            True,
            Activity.ACTIVE,
        ),
        (
            "max-scale caps",
            replace(BASE, max_scale=3),
            state(Activity.ACTIVE, T0),
            T0,
            9,
            0,
            3,
            3,
            False,
            Activity.ACTIVE,
        ),
        (
            "min-scale floors",
            replace(BASE, min_scale=2),
            state(Activity.ACTIVE, T0, 2),
            T0 + 99,
            0,
            0,
            2,
            2,
            False,
            Activity.ACTIVE,
        ),
        (
            "0 while active < window: hold 1",
            BASE,
            state(Activity.ACTIVE, T0),
            T0 + 30,
            0,
            0,
            1,
            1,
            False,
            Activity.ACTIVE,
        ),
        (
            "0 after a window: deactivate, keep 1",
            BASE,
            state(Activity.ACTIVE, T0),
            T0 + 60,
            0,
            0,
            1,
            1,
            True,
            Activity.INACTIVE,
        ),
        (
            "inactive < grace: keep",
            BASE,
            state(Activity.INACTIVE, T0, 1, T0),
            T0 + 10,
            0,
            0,
            1,
            1,
            True,
            Activity.INACTIVE,
        ),
        (
            "inactive >= grace: zero",
            BASE,
            state(Activity.INACTIVE, T0, 1, T0),
            T0 + 30,
            0,
            0,
            1,
            0,
            True,
            Activity.INACTIVE,
        ),
        (
            "long in proxy mode: zero at once",
            BASE,
            state(Activity.INACTIVE, T0 + 60, 1, T0),
            T0 + 61,
            0,
            0,
            1,
            0,
            True,
            Activity.INACTIVE,
        ),
        (
            "retention holds the last pod",
            replace(BASE, scale_to_zero_pod_retention_s=50),
            state(Activity.INACTIVE, T0, 1, T0 - 100),
            T0 + 40,
            0,
            0,
            1,
            1,
            True,
            Activity.INACTIVE,
        ),
        (
            "retention over",
            replace(BASE, scale_to_zero_pod_retention_s=50),
            state(Activity.INACTIVE, T0, 1, T0 - 100),
            T0 + 50,
            0,
            0,
            1,
            0,
            True,
            Activity.INACTIVE,
        ),
        (
            "scale-to-zero disabled",
            replace(BASE, enable_scale_to_zero=False),
            state(Activity.ACTIVE, T0),
            T0 + 99,
            0,
            0,
            1,
            1,
            False,
            Activity.ACTIVE,
        ),
        (
            "from zero: activating",
            BASE,
            state(Activity.INACTIVE, T0, 0, T0),
            T0 + 99,
            1,
            -211,
            0,
            1,
            True,
            Activity.ACTIVATING,
        ),
        (
            "unknown while inactive: proxy",
            BASE,
            state(Activity.INACTIVE, T0, 0, T0),
            T0 + 99,
            -1,
            0,
            0,
            0,
            True,
            Activity.INACTIVE,
        ),
    ],
)
def test_reconcile(
    label: str,
    spec: DeciderSpec,
    st: ScalerState,
    now: float,
    desired: int,
    ebc: int,
    ready: int,
    instances: int,
    proxy: bool,
    activity: Activity,
) -> None:
    decision, new = reconcile(spec, st, now, desired, ebc, ready)
    assert (decision.instances, decision.proxy, new.activity) == (instances, proxy, activity), label
    assert new.instances == decision.instances


def test_rechecks_say_when_to_look_again() -> None:
    d, _ = reconcile(BASE, state(Activity.ACTIVE, T0), T0 + 45, 0, 0, 1)
    assert d.recheck_after_s == 15.0  # the rest of the stable window
    d, _ = reconcile(BASE, state(Activity.INACTIVE, T0, 1, T0), T0 + 10, 0, 0, 1)
    assert d.recheck_after_s == 20.0  # the rest of the grace period


def test_new_service_activation_and_timeout() -> None:
    st = ScalerState.initial(BASE, T0)
    assert (st.activity, st.instances) == (Activity.ACTIVATING, 1)
    d, st = reconcile(BASE, st, T0 + 1, SCALE_UNKNOWN, initial_ebc(BASE), 0)
    assert d.want == SCALE_UNKNOWN and d.instances == 1 and st.activity is Activity.ACTIVATING
    d, st2 = reconcile(BASE, st, T0 + 5, SCALE_UNKNOWN, -111, 1)
    assert st2.activity is Activity.ACTIVE and st2.initialized
    d, st3 = reconcile(BASE, st, T0 + 631, SCALE_UNKNOWN, -111, 0)  # never ready: give up
    assert d.instances == 0 and st3.activity is Activity.INACTIVE


def test_initial_scale_is_a_floor_until_reached() -> None:
    spec = decider_spec({P + "initial-scale": "3"}, 0)
    st = ScalerState.initial(spec, T0)
    d, st = reconcile(spec, st, T0 + 2, 1, 0, 1)
    assert d.instances == 3 and st.activity is Activity.ACTIVATING
    d, st = reconcile(spec, st, T0 + 4, 1, 0, 3)
    assert d.instances == 3 and st.initialized and st.activity is Activity.ACTIVE
    d, st = reconcile(spec, st, T0 + 6, 1, 0, 3)
    assert d.instances == 1  # initialized: the decider rules again


@dataclass
class Tick:
    t: int
    instances: int
    activity: Activity
    proxy: bool


def simulate(spec: DeciderSpec, load: Callable[[int], float], seconds: int) -> list[Tick]:
    """Record the metric each second (router stats while instances exist, activator stats at zero),
    decide and reconcile every 2 s; instances are ready as soon as they are asked for."""
    windows = MetricWindows(spec.stable_window_s, spec.panic_window_s)
    dstate = DeciderState.initial(spec, T0, ready=0)
    sstate = ScalerState.initial(spec, T0)
    desired, ebc = SCALE_UNKNOWN, initial_ebc(spec)
    log: list[Tick] = []
    for s in range(seconds):
        now = T0 + s
        ready = sstate.instances
        if ready > 0 or load(s) > 0:
            windows.record(now, load(s))
        if s % 2:
            continue
        averages = windows.averages(now)
        result, dstate = decide(spec, dstate, now, ready, *(averages or (None, None)))
        if result.valid:
            desired, ebc = result.desired, result.ebc
        decision, sstate = reconcile(spec, sstate, now, desired, ebc, ready)
        log.append(Tick(s, decision.instances, sstate.activity, decision.proxy))
    return log


def first(log: list[Tick], pred: Callable[[Tick], bool]) -> int:
    return next(tick.t for tick in log if pred(tick))


def burst(s: int) -> float:
    return 5.0 if s < 10 else 0.0


def test_scale_to_zero_timeline_defaults() -> None:
    # Default TBC 211 keeps a one-instance Service behind the activator all along (EBC < 0), so the
    # last instance goes at the first reconcile after deactivation: 60 s window + a tick or two.
    log = simulate(BASE, burst, 120)
    deactivated = first(log, lambda t: t.activity is Activity.INACTIVE)
    zero = first(log, lambda t: t.instances == 0)
    assert deactivated == 70  # the last non-zero bucket (second 9) leaves the 60 s window at 69
    assert zero == 72
    assert all(t.instances == 1 for t in log if t.t < zero)
    assert all(t.proxy for t in log)


def test_scale_to_zero_timeline_grace_period() -> None:
    # With TBC 0 the activator leaves the path while instances serve, so after deactivation the
    # full 30 s grace period must pass with the activator in the path.
    spec = decider_spec({P + "target-burst-capacity": "0"}, 0)
    log = simulate(spec, burst, 140)
    assert first(log, lambda t: t.activity is Activity.INACTIVE) == 70
    assert first(log, lambda t: t.instances == 0) == 100
    assert not any(t.proxy for t in log if 0 < t.t < 70)


def test_short_window_for_tests() -> None:
    spec = decider_spec({}, 0, stable_window_override_s=6.0)
    log = simulate(spec, burst, 40)
    assert first(log, lambda t: t.activity is Activity.INACTIVE) == 16  # second 9 leaves a 6 s window at 15
    assert first(log, lambda t: t.instances == 0) == 30  # the 30 s grace still counts from activator-in-path
    cfg = AutoscalerConfig(scale_to_zero_grace_period_s=2.0)  # KNLOCAL_SCALE_TO_ZERO_GRACE=2s
    log = simulate(decider_spec({}, 0, cfg, stable_window_override_s=6.0), burst, 40)
    assert first(log, lambda t: t.instances == 0) == 18


def test_scale_from_zero() -> None:
    def load(s: int) -> float:
        return 5.0 if s < 10 or s >= 100 else 0.0

    log = simulate(BASE, load, 110)
    by_t = {t.t: t for t in log}
    assert by_t[98].instances == 0
    assert (by_t[100].instances, by_t[100].activity) == (1, Activity.ACTIVATING)  # first request: 1 instance
    assert (by_t[102].instances, by_t[102].activity) == (1, Activity.ACTIVE)


def test_min_scale_never_reaches_zero() -> None:
    spec = decider_spec({P + "min-scale": "1"}, 0)
    log = simulate(spec, burst, 200)
    assert all(t.instances == 1 for t in log)
    assert all(t.activity is Activity.ACTIVE for t in log[1:])


def test_load_scales_out_and_back() -> None:
    spec = decider_spec({P + "target": "10"}, 10)  # 7 per instance, like the processor

    def load(s: int) -> float:
        return 70.0 if s < 30 else 0.0

    log = simulate(spec, load, 200)
    assert max(t.instances for t in log) == 10  # 70 in flight / 7
    assert log[-1].instances == 0
