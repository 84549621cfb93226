"""Admission rules for Knative Services: autoscaling annotations (§1.8), containerConcurrency, timeoutSeconds."""

from __future__ import annotations

from typing import Any

import pytest

from tui.validate.model import Manifest
from tui.validate.rules_serving import check_autoscaling_annotations, check_service

A = "autoscaling.knative.dev/"


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, []),
        ({A + "min-scale": "1", A + "max-scale": "10", A + "target": "70"}, []),
        ({A + "class": "kpa.autoscaling.knative.dev", A + "metric": "rps"}, []),
        ({A + "class": "hpa.autoscaling.knative.dev", A + "metric": "cpu"}, []),
        ({A + "class": "example.com/custom"}, []),
        ({A + "class": "xpa.autoscaling.knative.dev"}, [A + "class"]),
        ({A + "metric": "cpu"}, [A + "metric"]),
        ({A + "class": "hpa.autoscaling.knative.dev", A + "metric": "rps"}, [A + "metric"]),
        ({A + "target": "0.001"}, [A + "target"]),
        ({A + "target": "lots"}, [A + "target"]),
        ({A + "target-utilization-percentage": "0"}, [A + "target-utilization-percentage"]),
        ({A + "target-utilization-percentage": "100"}, []),
        ({A + "targetUtilizationPercentage": "101"}, [A + "target-utilization-percentage"]),
        ({A + "min-scale": "-1"}, [A + "min-scale"]),
        ({A + "min-scale": "1.5"}, [A + "min-scale"]),
        ({A + "min-scale": "3", A + "max-scale": "2"}, [A + "max-scale"]),
        ({A + "min-scale": "3", A + "max-scale": "0"}, []),  # 0 = unlimited
        ({A + "minScale": "1", A + "min-scale": "1"}, [A + "minScale"]),
        ({A + "initial-scale": "0"}, [A + "initial-scale"]),
        ({A + "initial-scale": "2"}, []),
        ({A + "activation-scale": "1"}, [A + "activation-scale"]),
        ({A + "activation-scale": "3", A + "max-scale": "2"}, [A + "activation-scale"]),
        ({A + "activation-scale": "2"}, []),
        ({A + "window": "5s"}, [A + "window"]),
        ({A + "window": "6s"}, []),
        ({A + "window": "60.5s"}, [A + "window"]),
        ({A + "window": "2h"}, [A + "window"]),
        ({A + "window": "60"}, [A + "window"]),
        ({A + "class": "hpa.autoscaling.knative.dev", A + "window": "60s"}, [A + "window"]),
        ({A + "scale-down-delay": "15m"}, []),
        ({A + "scale-down-delay": "1h1s"}, [A + "scale-down-delay"]),
        ({A + "scale-to-zero-pod-retention-period": "1m5s"}, []),
        ({A + "panic-window-percentage": "0.5"}, [A + "panic-window-percentage"]),
        ({A + "panic-threshold-percentage": "100"}, [A + "panic-threshold-percentage"]),
        ({A + "panic-threshold-percentage": "200"}, []),
        ({A + "target-burst-capacity": "-1"}, []),
        ({A + "target-burst-capacity": "-2"}, [A + "target-burst-capacity"]),
        ({A + "metric-aggregation-algorithm": "weightedExponential"}, []),
        ({A + "metric-aggregation-algorithm": "median"}, [A + "metric-aggregation-algorithm"]),
        ({A + "min-scael": "1"}, [A + "min-scael"]),
        ({A + "min-scale": 1}, [A + "min-scale"]),
        ({"example.com/other": "x"}, []),
    ],
)
def test_autoscaling_annotations(annotations: dict[str, Any], expected: list[str]) -> None:
    assert [key for key, _ in check_autoscaling_annotations(annotations)] == expected


def service(
    meta_annotations: dict[str, str] | None = None, cc: int | None = None, timeout: int | None = None
) -> Manifest:
    pod: dict[str, Any] = {"containers": [{"image": "x"}]}
    if cc is not None:
        pod["containerConcurrency"] = cc
    if timeout is not None:
        pod["timeoutSeconds"] = timeout
    obj = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "svc", "annotations": meta_annotations or {}},
        "spec": {"template": {"metadata": {"annotations": {A + "min-scale": "0"}}, "spec": pod}},
    }
    return Manifest("svc.yaml", obj)


@pytest.mark.parametrize(
    ("manifest", "paths"),
    [
        (service(), []),
        (service(cc=0, timeout=600), []),
        (service(cc=1000, timeout=0), []),
        (service(cc=1001), ["spec.template.spec.containerConcurrency"]),
        (service(cc=-1), ["spec.template.spec.containerConcurrency"]),
        (service(timeout=601), ["spec.template.spec.timeoutSeconds"]),
        (service({A + "min-scale": "1"}), ["metadata.annotations[autoscaling.knative.dev/min-scale]"]),
        (service({"example.com/team": "a"}), []),
    ],
)
def test_check_service(manifest: Manifest, paths: list[str]) -> None:
    assert [f.path for f in check_service(manifest)] == paths


def test_finding_format() -> None:
    (finding,) = check_service(service(cc=2000))
    assert finding.format() == (
        "svc.yaml: Service/svc: spec.template.spec.containerConcurrency: 2000 is outside 0 … 1000"
    )
