"""Pure admission rules for Knative Services that the Service CRD does not encode.

Ranges follow the serving webhook (annotation_validation.go, metadata_validation.go) with the
stock config-autoscaler/config-defaults values: max-scale-limit 0, allow-zero-initial-scale false,
container-concurrency-max-limit 1000, max-revision-timeout-seconds 600.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from tui.validate.durations import DurationError, parse_go_duration
from tui.validate.model import Finding, Manifest, join_path

PREFIX = "autoscaling.knative.dev/"
KPA = "kpa.autoscaling.knative.dev"
HPA = "hpa.autoscaling.knative.dev"
MAX_CONTAINER_CONCURRENCY = 1000
MAX_TIMEOUT_SECONDS = 600
HOUR = 3600.0

# canonical key suffix -> legacy alias suffix (both accepted by the webhook, never together)
ALIASES = {
    "target-utilization-percentage": "targetUtilizationPercentage",
    "min-scale": "minScale",
    "max-scale": "maxScale",
    "initial-scale": "initialScale",
    "scale-down-delay": "scaleDownDelay",
    "scale-to-zero-pod-retention-period": "scaleToZeroPodRetentionPeriod",
    "panic-window-percentage": "panicWindowPercentage",
    "panic-threshold-percentage": "panicThresholdPercentage",
    "target-burst-capacity": "targetBurstCapacity",
    "metric-aggregation-algorithm": "metricAggregationAlgorithm",
}
KNOWN = {"class", "metric", "target", "activation-scale", "window", *ALIASES, *ALIASES.values()}
KPA_ONLY = {"window", "panic-window-percentage", "panic-threshold-percentage", "metric-aggregation-algorithm"}

Problem = tuple[str, str]  # (annotation key, message)


def _number(text: str) -> float:
    value = float(text)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(text)
    return value


def _integer(text: str) -> int:
    return int(text.strip())


def _range(
    lo: float | None, hi: float | None, parse: Callable[[str], float] = _number
) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        try:
            value = parse(text)
        except ValueError:
            return f"{text!r} is not a {'whole ' if parse is _integer else ''}number"
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"{lo if lo is not None else '-inf'} … {hi if hi is not None else 'inf'}"
            return f"{text} is outside {bounds}"
        return None

    return check


def _duration(lo: float, hi: float, whole_seconds: bool) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        try:
            seconds = parse_go_duration(text)
        except DurationError as exc:
            return str(exc)
        if seconds < lo or seconds > hi:
            return f"{text} is outside {lo:g}s … {hi:g}s"
        if whole_seconds and seconds != int(seconds):
            return f"{text} must be a whole number of seconds"
        return None

    return check


def _burst(text: str) -> str | None:
    try:
        value = _number(text)
    except ValueError:
        return f"{text!r} is not a number"
    return None if value == -1 or value >= 0 else f"{text} must be -1 (unlimited) or ≥ 0"


def _one_of(*allowed: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        return None if text in allowed else f"{text!r} is not one of {', '.join(allowed)}"

    return check


_CHECKS: dict[str, Callable[[str], str | None]] = {
    "target": _range(0.01, None),
    "target-utilization-percentage": _range(1, 100),
    "min-scale": _range(0, None, _integer),
    "max-scale": _range(0, None, _integer),
    "initial-scale": _range(1, None, _integer),
    "activation-scale": _range(2, None, _integer),
    "scale-down-delay": _duration(0, HOUR, whole_seconds=True),
    "scale-to-zero-pod-retention-period": _duration(0, HOUR, whole_seconds=False),
    "window": _duration(6, HOUR, whole_seconds=True),
    "panic-window-percentage": _range(1, 100),
    "panic-threshold-percentage": _range(110, 1000),
    "target-burst-capacity": _burst,
    "metric-aggregation-algorithm": _one_of("linear", "weighted-exponential", "weightedExponential"),
}


def check_autoscaling_annotations(annotations: Mapping[str, Any]) -> list[Problem]:
    """Every autoscaling annotation of a revision template, checked alone and against the others."""
    problems: list[Problem] = []
    values: dict[str, str] = {}
    for key, raw in annotations.items():
        if not key.startswith(PREFIX):
            continue
        suffix = key[len(PREFIX) :]
        if suffix not in KNOWN:
            problems.append((key, f"unknown autoscaling annotation {suffix!r} (typo?)"))
            continue
        canonical = next((c for c, alias in ALIASES.items() if alias == suffix), suffix)
        if canonical != suffix and PREFIX + canonical in annotations:
            problems.append(
                (key, f"legacy alias set together with {PREFIX}{canonical}; keep only the latter")
            )
            continue
        if not isinstance(raw, str):
            problems.append((key, f"annotation values are strings; quote {raw!r}"))
            continue
        values[canonical] = raw
    cls = values.get("class", KPA)
    if cls.endswith(".knative.dev") and cls not in (KPA, HPA):
        problems.append((PREFIX + "class", f"{cls!r} is not {KPA} or {HPA}"))
    metric = values.get("metric")
    if metric is not None and cls == KPA and metric not in ("concurrency", "rps"):
        problems.append((PREFIX + "metric", f"{metric!r} is not concurrency or rps (the KPA's metrics)"))
    if metric is not None and cls == HPA and metric in ("concurrency", "rps"):
        problems.append((PREFIX + "metric", f"{metric!r} needs the KPA class, not the HPA"))
    for canonical, text in values.items():
        check = _CHECKS.get(canonical)
        if check is None:
            continue
        if canonical == "initial-scale" and text.strip() == "0":
            problems.append(
                (PREFIX + canonical, '0 needs allow-zero-initial-scale: "true" in config-autoscaler')
            )
            continue
        if canonical in KPA_ONLY and cls != KPA:
            problems.append((PREFIX + canonical, f"only valid with the KPA class, not {cls}"))
            continue
        message = check(text)
        if message is not None:
            problems.append((PREFIX + canonical, message))
    problems.extend(_scale_bounds(values))
    return problems


def _scale_bounds(values: Mapping[str, str]) -> list[Problem]:
    try:
        lo = int(values.get("min-scale", "0"))
        hi = int(values.get("max-scale", "0"))
    except ValueError:
        return []  # already reported
    problems: list[Problem] = []
    if hi and lo > hi:
        problems.append((PREFIX + "max-scale", f"max-scale {hi} is below min-scale {lo}"))
    if "activation-scale" in values:
        try:
            act = int(values["activation-scale"])
        except ValueError:
            return problems
        if act < lo or (hi and act > hi):
            problems.append((PREFIX + "activation-scale", f"{act} must lie within min-scale … max-scale"))
    return problems


def check_service(manifest: Manifest) -> list[Finding]:
    """Knative Service: annotation placement and ranges, containerConcurrency, timeoutSeconds."""
    findings: list[Finding] = []
    for key in manifest.annotations:
        if str(key).startswith(PREFIX):
            findings.append(
                Finding.at(
                    manifest,
                    join_path(["metadata", "annotations", key]),
                    "autoscaling annotations on the Service's own metadata are ignored; "
                    "put them on spec.template.metadata.annotations",
                )
            )
    template = manifest.spec.get("template")
    template = template if isinstance(template, Mapping) else {}
    meta = template.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if isinstance(annotations, Mapping):
        base = ["spec", "template", "metadata", "annotations"]
        for key, message in check_autoscaling_annotations(annotations):
            findings.append(Finding.at(manifest, join_path([*base, key]), message))
    pod = template.get("spec")
    pod = pod if isinstance(pod, Mapping) else {}
    cc = pod.get("containerConcurrency")
    if isinstance(cc, int) and not 0 <= cc <= MAX_CONTAINER_CONCURRENCY:
        findings.append(
            Finding.at(
                manifest,
                "spec.template.spec.containerConcurrency",
                f"{cc} is outside 0 … {MAX_CONTAINER_CONCURRENCY}",
            )
        )
    timeout = pod.get("timeoutSeconds")
    if isinstance(timeout, int) and not 0 <= timeout <= MAX_TIMEOUT_SECONDS:
        findings.append(
            Finding.at(
                manifest,
                "spec.template.spec.timeoutSeconds",
                f"{timeout} is outside 0 … {MAX_TIMEOUT_SECONDS} (max-revision-timeout-seconds)",
            )
        )
    return findings
