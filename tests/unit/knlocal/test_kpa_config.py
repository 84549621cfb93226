"""knlocal.serving.kpa.config: ResolveMetricTarget, windows, annotation validation, config-autoscaler."""

from __future__ import annotations

from pathlib import Path

import pytest

from knlocal.manifests import load_topology
from knlocal.serving.kpa.config import AnnotationError, AutoscalerConfig, decider_spec

P = "autoscaling.knative.dev/"
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("annotations", "cc", "target_value", "total"),
    [
        ({}, 0, 70.0, 100.0),  # the famous default: 70 in flight per instance
        ({}, 10, 7.0, 10.0),
        ({P + "metric": "rps"}, 0, 140.0, 200.0),
        ({P + "target": "10"}, 0, 7.0, 10.0),  # the gotcha: target 10 means 7
        ({P + "target": "10", P + "target-utilization-percentage": "100"}, 0, 10.0, 10.0),
        ({P + "target": "20"}, 10, 7.0, 10.0),  # capped by containerConcurrency
        ({P + "targetUtilizationPercentage": "50"}, 0, 50.0, 100.0),  # legacy alias
        ({P + "target": "0.01"}, 0, 0.01, 0.01),  # TargetMin floor: 0.007 -> 0.01
        ({P + "metric": "rps", P + "target": "50"}, 10, 35.0, 50.0),  # rps ignores cc
    ],
)
def test_resolve_metric_target(
    annotations: dict[str, str], cc: int, target_value: float, total: float
) -> None:
    spec = decider_spec(annotations, cc)
    assert spec.target_value == pytest.approx(target_value)
    assert spec.total_value == pytest.approx(total)


@pytest.mark.parametrize(
    ("annotations", "stable", "panic"),
    [
        ({}, 60.0, 6.0),
        ({P + "window": "6s"}, 6.0, 1.0),  # 0.6 s rounds up to one bucket
        ({P + "window": "65s"}, 65.0, 7.0),  # 6.5 s rounds half away from zero
        ({P + "window": "64s"}, 64.0, 6.0),
        ({P + "window": "60s", P + "panic-window-percentage": "50"}, 60.0, 30.0),
        ({P + "window": "1h"}, 3600.0, 360.0),
    ],
)
def test_windows(annotations: dict[str, str], stable: float, panic: float) -> None:
    spec = decider_spec(annotations, 0)
    assert (spec.stable_window_s, spec.panic_window_s) == (stable, panic)


def test_stable_window_override_wins() -> None:
    spec = decider_spec({P + "window": "120s"}, 0, stable_window_override_s=2.0)
    assert (spec.stable_window_s, spec.panic_window_s) == (2.0, 1.0)


def test_defaults() -> None:
    spec = decider_spec({}, 0)
    assert spec.panic_threshold == 2.0
    assert (spec.max_scale_up_rate, spec.max_scale_down_rate) == (1000.0, 2.0)
    assert spec.target_burst_capacity == 211.0
    assert (spec.min_scale, spec.max_scale, spec.initial_scale, spec.activation_scale) == (0, 0, 1, 1)
    assert (spec.scale_to_zero_grace_s, spec.scale_to_zero_pod_retention_s, spec.scale_down_delay_s) == (
        30,
        0,
        0,
    )
    assert spec.activation_timeout_s == 630.0
    assert spec.aggregation == "linear"


def test_every_field_from_annotations() -> None:
    spec = decider_spec(
        {
            P + "class": "kpa.autoscaling.knative.dev",
            P + "min-scale": "1",
            P + "maxScale": "9",
            P + "initial-scale": "2",
            P + "activation-scale": "3",
            P + "panic-threshold-percentage": "150",
            P + "target-burst-capacity": "-1",
            P + "scale-down-delay": "1m",
            P + "scale-to-zero-pod-retention-period": "90s",
            P + "metric-aggregation-algorithm": "weightedExponential",
        },
        0,
    )
    assert (spec.min_scale, spec.max_scale, spec.initial_scale, spec.activation_scale) == (1, 9, 2, 3)
    assert spec.panic_threshold == 1.5
    assert spec.target_burst_capacity == -1
    assert spec.scale_down_delay_s == 60.0
    assert spec.scale_to_zero_pod_retention_s == 90.0
    assert spec.aggregation == "weighted-exponential"
    assert spec.bounds() == (1, 9)
    unreachable = decider_spec(
        {P + "min-scale": "2", P + "scale-to-zero-pod-retention-period": "9s"}, 0, reachable=False
    )
    assert unreachable.bounds() == (0, 0)
    assert unreachable.scale_to_zero_pod_retention_s == 0.0


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        ({P + "class": "hpa.autoscaling.knative.dev"}, "implements only kpa"),
        ({P + "metric": "cpu"}, "concurrency or rps"),
        ({P + "target": "0.001"}, "must be >= 0.01"),
        ({P + "target": "lots"}, "must be a number"),
        ({P + "target-utilization-percentage": "0"}, "must be in [1, 100]"),
        ({P + "target-utilization-percentage": "101"}, "must be in [1, 100]"),
        ({P + "window": "5s"}, "in [6s, 3600s]"),
        ({P + "window": "6500ms"}, "whole seconds"),
        ({P + "window": "sixty"}, "is not a duration"),
        ({P + "panic-window-percentage": "0.5"}, "[1, 100]"),
        ({P + "panic-threshold-percentage": "100"}, "[110, 1000]"),
        ({P + "target-burst-capacity": "-2"}, "must be >= -1"),
        ({P + "target-burst-capacity": "-0.5"}, "must be -1 or >= 0"),
        ({P + "min-scale": "-1"}, "must be >= 0"),
        ({P + "min-scale": "3", P + "max-scale": "2"}, "must be <= max-scale 2"),
        ({P + "min-scale": "one"}, "must be an integer"),
        ({P + "initial-scale": "0"}, "allow-zero-initial-scale"),
        ({P + "activation-scale": "1"}, "must be >= 2"),
        ({P + "activation-scale": "5", P + "max-scale": "4"}, "within [0, 4]"),
        ({P + "scale-down-delay": "2h"}, "[0s, 3600s]"),
        ({P + "metric-aggregation-algorithm": "median"}, "linear or weighted-exponential"),
        ({P + "min-scale": "1", P + "minScale": "1"}, "set only one of"),
    ],
)
def test_annotation_errors(annotations: dict[str, str], fragment: str) -> None:
    with pytest.raises(AnnotationError) as info:
        decider_spec(annotations, 0)
    assert fragment in str(info.value)
    assert str(info.value).startswith(P)


def test_max_scale_limit() -> None:
    cfg = AutoscalerConfig(max_scale=5, max_scale_limit=10)
    assert decider_spec({P + "max-scale": "10"}, 0, cfg).max_scale == 10
    with pytest.raises(AnnotationError, match="must be in"):
        decider_spec({P + "max-scale": "0"}, 0, cfg)
    with pytest.raises(AnnotationError, match="must be in"):
        decider_spec({P + "max-scale": "11"}, 0, cfg)


def test_config_from_map() -> None:
    assert AutoscalerConfig.from_map({"_example": "ignored"}) == AutoscalerConfig()
    cfg = AutoscalerConfig.from_map(
        {
            "stable-window": "30s",
            "container-concurrency-target-percentage": "0.8",  # a fraction: 80 %
            "enable-scale-to-zero": "false",
            "scale-to-zero-grace-period": "10s",
            "max-scale-up-rate": "5",
            "initial-scale": "2",
        }
    )
    assert cfg.stable_window_s == 30.0
    assert cfg.container_concurrency_target_percentage == pytest.approx(80.0)
    assert not cfg.enable_scale_to_zero
    assert cfg.scale_to_zero_grace_period_s == 10.0
    assert cfg.max_scale_up_rate == 5.0
    assert cfg.initial_scale == 2
    assert decider_spec({}, 0, cfg).target_value == pytest.approx(80.0)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"stable-window": "5s"}, "stable-window"),
        ({"enable-scale-to-zero": "yes"}, "true or false"),
        ({"max-scale-down-rate": "1"}, "must be > 1"),
        ({"initial-scale": "0"}, "allow-zero-initial-scale"),
        ({"target-burst-capacity": "-3"}, "-1 or >= 0"),
        ({"scale-to-zero-grace-period": "0s"}, "must be > 0"),
        ({"container-concurrency-target-percentage": "150"}, "(0, 100]"),
        ({"max-scale-up-rate": "inf"}, "finite"),
    ],
)
def test_config_errors(data: dict[str, str], fragment: str) -> None:
    with pytest.raises(AnnotationError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        AutoscalerConfig.from_map(data)


def test_every_repository_service_has_a_valid_spec() -> None:
    topo = load_topology(REPO / "knative")
    specs = {name: decider_spec(s.annotations, s.container_concurrency) for name, s in topo.services.items()}
    assert specs["processor"].target_value == pytest.approx(7.0)
    assert specs["aggregator"].target_value == pytest.approx(35.0)
    assert all(specs[n].min_scale == 1 for n in ("gateway", "readmodel", "deadletter"))
    assert all(specs[n].min_scale == 0 for n in ("processor", "aggregator"))
    assert all(s.max_scale > 0 for s in specs.values())
