"""knlocal.serving.kpa.decider: the vectors of Knative's autoscaler_test.go (knative.md §1.10) and more."""

from __future__ import annotations

from dataclasses import replace

import pytest

from knlocal.serving.kpa.config import AutoscalerConfig, DeciderSpec, decider_spec
from knlocal.serving.kpa.decider import DeciderState, ScaleResult, decide, initial_ebc, should_poke

T0 = 1_000_000.0


def spec(target: float, **changes: object) -> DeciderSpec:
    """Knative's test helper: TotalValue = target/0.75, threshold 2, rates 10/10, stable window 60 s."""
    base = DeciderSpec(
        metric="concurrency",
        target_value=target,
        total_value=target / 0.75,
        target_burst_capacity=0,
        panic_threshold=2.0,
        max_scale_up_rate=10.0,
        max_scale_down_rate=10.0,
        stable_window_s=60.0,
        panic_window_s=6.0,
        scale_down_delay_s=0.0,
        aggregation="linear",
        activation_scale=1,
        min_scale=0,
        max_scale=0,
        initial_scale=1,
        enable_scale_to_zero=True,
        scale_to_zero_grace_s=30.0,
        scale_to_zero_pod_retention_s=0.0,
        activation_timeout_s=630.0,
        container_concurrency=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("label", "sp", "state", "ready", "stable", "panic", "want"),
    [
        ("stable 50 / target 10, 1 ready", spec(10), DeciderState(), 1, 50.0, 50.0, 5),
        ("same with 5 ready", spec(10), DeciderState(), 5, 50.0, 50.0, 5),
        ("panic: 100/10 = 10 >= 2 x 1 ready", spec(10), DeciderState(), 1, 50.0, 100.0, 10),
        ("in panic, stable larger", spec(1), DeciderState(T0, 5), 5, 50.0, 30.0, 50),
        ("in panic, panic larger", spec(1), DeciderState(T0, 5), 5, 20.0, 30.0, 30),
        ("slow up-rate still adds one", spec(1, max_scale_up_rate=1.1), DeciderState(), 2, 3.0, 3.1, 3),
        ("down-rate 1.1 from 100", spec(10, max_scale_down_rate=1.1), DeciderState(), 100, 1.0, 1.0, 90),
        (
            "down-rate ignored when unreachable",
            spec(10, max_scale_down_rate=1.1, reachable=False),
            DeciderState(),
            100,
            1.0,
            1.0,
            1,
        ),
        ("rate-limited up from 1", spec(10), DeciderState(), 1, 1000.0, 1001.0, 10),
        ("rate-limited up from 10", spec(10), DeciderState(T0, 10), 10, 1000.0, 1001.0, 100),
        ("rate-limited down from 100", spec(10), DeciderState(), 100, 1.0, 1.0, 10),
        ("rate-limited down from 10", spec(10), DeciderState(), 10, 1.0, 1.0, 1),
        ("idle: zero", spec(10), DeciderState(), 1, 0.0, 0.0, 0),
        ("idle at zero instances", spec(10), DeciderState(), 0, 0.0, 0.0, 0),
        (
            "activation-scale lifts a non-zero answer",
            spec(10, activation_scale=3),
            DeciderState(),
            1,
            5.0,
            5.0,
            3,
        ),
        ("activation-scale leaves zero alone", spec(10, activation_scale=3), DeciderState(), 1, 0.0, 0.0, 0),
    ],
)
def test_vectors(
    label: str, sp: DeciderSpec, state: DeciderState, ready: int, stable: float, panic: float, want: int
) -> None:
    result, _ = decide(sp, state, T0 + 2, ready, stable, panic)
    assert result.valid, label
    assert result.desired == want, label


def test_no_data_is_invalid_and_keeps_state() -> None:
    state = DeciderState(T0, 7)
    result, new_state = decide(spec(10), state, T0, 3, None, None)
    assert result == ScaleResult(0, 0, valid=False)
    assert new_state is state


def test_panic_hold_timeline() -> None:
    sp = spec(10)
    state = DeciderState()
    r, state = decide(sp, state, T0, 1, 100.0, 100.0)
    assert r.desired == 10 and state.panicking  # 100/10 over 1 ready: panic
    r, state = decide(sp, state, T0 + 2, 10, 100.0, 1000.0)
    assert r.desired == 100 and state.panic_time == T0 + 2  # extended
    r, state = decide(sp, state, T0 + 32, 100, 1.0, 1.0)
    assert r.desired == 100 and state.panicking  # traffic gone, but never down while panicking
    r, state = decide(sp, state, T0 + 62, 100, 1.0, 1.0)
    assert r.desired == 100  # exactly a stable window after the last over-threshold tick: still panicking
    r, state = decide(sp, state, T0 + 63, 100, 1.0, 1.0)
    # out of panic: ceil(1/10) = 1 would be the answer, but the down-rate (10) allows at most 100 -> 10
    assert not state.panicking and state.max_panic_pods == 0
    assert r.desired == 10


def test_panic_uses_unclamped_count() -> None:
    # up-rate 1.1 clamps the panic count to 2, yet dppc/ready = 50 >= 2 starts panic.
    r, state = decide(spec(1, max_scale_up_rate=1.1), DeciderState(), T0, 1, 1.0, 50.0)
    assert state.panicking and r.desired == 2


def test_new_decider_over_many_ready_starts_in_panic() -> None:
    state = DeciderState.initial(spec(10), T0, ready=5)
    assert state.panicking and state.max_panic_pods == 5
    r, _ = decide(spec(10), state, T0 + 2, 5, 1.0, 1.0)
    assert r.desired == 5  # does not drop before a stable window of data
    assert not DeciderState.initial(spec(10), T0, ready=1).panicking


def test_scale_down_delay() -> None:
    sp = spec(10, scale_down_delay_s=60.0)
    state = DeciderState.initial(sp, T0, ready=0)
    r, state = decide(sp, state, T0, 3, 50.0, 50.0)  # 5 wanted, 5/3 < 2: no panic
    assert r.desired == 5 and not state.panicking
    for t in range(2, 60, 2):  # load gone, the larger recent value is held for 60 s
        r, state = decide(sp, state, T0 + t, 5, 0.0, 0.0)
        assert r.desired == 5, t
    r, state = decide(sp, state, T0 + 60, 5, 0.0, 0.0)
    assert r.desired == 0


def test_scale_down_delay_off_when_unreachable() -> None:
    sp = spec(10, scale_down_delay_s=60.0, reachable=False)
    state = DeciderState.initial(sp, T0, ready=0)
    _, state = decide(sp, state, T0, 3, 50.0, 50.0)
    r, _ = decide(sp, state, T0 + 2, 5, 0.0, 0.0)
    assert r.desired == 0


@pytest.mark.parametrize(
    ("tbc", "ready", "panic", "ebc"),
    [
        (0, 3, 50.0, 0),
        (-1, 3, 50.0, -1),
        (211, 3, 50.0, 39),  # floor(3*100 - 211 - 50)
        (211, 5, 10.0, 279),
        (211, 0, 0.0, -211),  # raw ready, may be zero
        (10, 1, 0.5, 89),  # floor(89.5)
    ],
)
def test_excess_burst_capacity(tbc: float, ready: int, panic: float, ebc: int) -> None:
    sp = spec(70, total_value=100.0, target_burst_capacity=tbc)
    r, _ = decide(sp, DeciderState(), T0, ready, panic, panic)
    assert r.ebc == ebc


def test_initial_ebc_and_poke() -> None:
    assert initial_ebc(spec(70, total_value=100.0, target_burst_capacity=211)) == -111
    assert initial_ebc(spec(70, target_burst_capacity=0)) == 0
    assert initial_ebc(spec(70, target_burst_capacity=-1)) == -1
    assert should_poke(0, 1.0) and not should_poke(1, 1.0) and not should_poke(0, 0.0)


def test_from_manifest_annotations() -> None:
    sp = decider_spec({"autoscaling.knative.dev/target": "10"}, 10, AutoscalerConfig())
    r, _ = decide(sp, DeciderState(), T0, 1, 14.0, 14.0)
    assert r.desired == 2  # target 10 x 0.7 = 7 per instance
