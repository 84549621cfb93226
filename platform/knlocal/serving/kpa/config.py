"""Autoscaler settings: config-autoscaler defaults plus revision annotations, into one ``DeciderSpec``.

``AutoscalerConfig`` holds the cluster-wide ``config-autoscaler`` values (defaults as shipped by Knative;
``from_map`` parses a ConfigMap's ``data``). ``decider_spec`` reads a Service's template annotations the
way the webhook validates them and ``ResolveMetricTarget``/``MakeDecider`` combine them, raising
``AnnotationError`` naming the key, the value and the allowed range.

Worked example (the processor): ``containerConcurrency: 10``, ``target: "10"``, utilization 70 %
-> TotalValue 10, TargetValue 7 concurrent requests per instance; stable window 60 s -> panic window 6 s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from knlocal.serving.kpa.durations import parse_go_duration

__all__ = [
    "PREFIX",
    "AnnotationError",
    "AutoscalerConfig",
    "DeciderSpec",
    "decider_spec",
]

PREFIX = "autoscaling.knative.dev/"
KPA_CLASS = "kpa.autoscaling.knative.dev"
TARGET_MIN = 0.01
WINDOW_MIN_S = 6.0
WINDOW_MAX_S = 3600.0
BUCKET_S = 1.0
ACTIVATION_TIMEOUT_BUFFER_S = 30.0


class AnnotationError(ValueError):
    """An autoscaling annotation or config value the Knative webhook would reject."""

    def __init__(self, key: str, value: str, problem: str) -> None:
        self.key = key
        self.value = value
        super().__init__(f"{key}={value!r}: {problem}")


@dataclass(frozen=True)
class AutoscalerConfig:
    """``config-autoscaler`` (namespace knative-serving) with Knative's shipped defaults."""

    container_concurrency_target_percentage: float = 70.0
    container_concurrency_target_default: float = 100.0
    requests_per_second_target_default: float = 200.0
    rps_target_utilization: float = 0.7  # not in the ConfigMap; the annotation can change it
    target_burst_capacity: float = 211.0
    stable_window_s: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    enable_scale_to_zero: bool = True
    scale_to_zero_grace_period_s: float = 30.0
    scale_to_zero_pod_retention_period_s: float = 0.0
    scale_down_delay_s: float = 0.0
    activator_capacity: float = 100.0
    initial_scale: int = 1
    allow_zero_initial_scale: bool = False
    min_scale: int = 0
    max_scale: int = 0
    max_scale_limit: int = 0
    progress_deadline_s: float = 600.0  # config-deployment

    @classmethod
    def from_map(cls, data: Mapping[str, str]) -> AutoscalerConfig:
        """Parse a ``config-autoscaler`` ConfigMap's ``data`` (unknown keys, like ``_example``, are ignored)."""
        cfg = cls()
        keyed = {f.name.replace("_", "-").removesuffix("-s"): f for f in fields(cls)}
        values: dict[str, object] = {}
        for key, raw in data.items():
            f = keyed.get(key)
            if f is None or f.name == "rps_target_utilization":
                continue
            default = getattr(cfg, f.name)
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false"):
                    raise AnnotationError(key, raw, "must be true or false")
                values[f.name] = raw.lower() == "true"
            elif isinstance(default, int):
                values[f.name] = _int(key, raw)
            elif f.name.endswith("_s"):
                values[f.name] = _duration(key, raw)
            else:
                values[f.name] = _float(key, raw)
        cfg = replace(cfg, **values)  # type: ignore[arg-type]
        # Percentages of 1.0 or less are taken as fractions (70 and 0.7 mean the same).
        if cfg.container_concurrency_target_percentage <= 1.0:
            cfg = replace(
                cfg, container_concurrency_target_percentage=cfg.container_concurrency_target_percentage * 100
            )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def fail(key: str, value: object, problem: str) -> AnnotationError:
            return AnnotationError(key, str(value), problem)

        pct = self.container_concurrency_target_percentage
        if not 0 < pct <= 100 or pct / 100 * self.container_concurrency_target_default < TARGET_MIN:
            raise fail(
                "container-concurrency-target-percentage",
                pct,
                "must be in (0, 100] and give a target >= 0.01",
            )
        if self.requests_per_second_target_default < TARGET_MIN:
            raise fail(
                "requests-per-second-target-default",
                self.requests_per_second_target_default,
                "must be >= 0.01",
            )
        if self.target_burst_capacity < 0 and self.target_burst_capacity != -1:
            raise fail("target-burst-capacity", self.target_burst_capacity, "must be -1 or >= 0")
        _check_window("stable-window", self.stable_window_s)
        if not 1 <= self.panic_window_percentage <= 100:
            raise fail("panic-window-percentage", self.panic_window_percentage, "must be in [1, 100]")
        if self.max_scale_up_rate <= 1 or self.max_scale_down_rate <= 1:
            raise fail("max-scale-up-rate/max-scale-down-rate", self.max_scale_up_rate, "must be > 1")
        if self.scale_to_zero_grace_period_s <= 0:
            raise fail("scale-to-zero-grace-period", self.scale_to_zero_grace_period_s, "must be > 0")
        if self.scale_down_delay_s < 0 or self.scale_down_delay_s != int(self.scale_down_delay_s):
            raise fail("scale-down-delay", self.scale_down_delay_s, "must be >= 0 whole seconds")
        if self.activator_capacity < 1:
            raise fail("activator-capacity", self.activator_capacity, "must be >= 1")
        if self.initial_scale < (0 if self.allow_zero_initial_scale else 1):
            raise fail(
                "initial-scale", self.initial_scale, "must be >= 1 (>= 0 with allow-zero-initial-scale)"
            )
        if self.min_scale < 0 or self.max_scale < 0 or self.max_scale_limit < 0:
            raise fail("min-scale/max-scale", self.min_scale, "must be >= 0")
        if self.max_scale and self.min_scale > self.max_scale:
            raise fail("min-scale", self.min_scale, f"must be <= max-scale {self.max_scale}")
        if self.max_scale_limit and (self.max_scale == 0 or self.max_scale > self.max_scale_limit):
            raise fail("max-scale", self.max_scale, f"must be in [1, max-scale-limit {self.max_scale_limit}]")


@dataclass(frozen=True)
class DeciderSpec:
    """Everything the decider and scaler need for one Service, resolved and validated."""

    metric: str  # "concurrency" | "rps"
    target_value: float  # per-instance target the KPA aims at
    total_value: float  # per-instance capacity (containerConcurrency or default), for EBC
    target_burst_capacity: float
    panic_threshold: float  # ratio, 2.0 = 200 %
    max_scale_up_rate: float
    max_scale_down_rate: float
    stable_window_s: float
    panic_window_s: float
    scale_down_delay_s: float
    aggregation: str  # "linear" | "weighted-exponential"
    activation_scale: int
    min_scale: int
    max_scale: int  # 0 = unbounded
    initial_scale: int
    enable_scale_to_zero: bool
    scale_to_zero_grace_s: float
    scale_to_zero_pod_retention_s: float
    activation_timeout_s: float
    container_concurrency: int
    reachable: bool = True

    def bounds(self) -> tuple[int, int]:
        """(min, max) scale; an unreachable revision may go to zero whatever min-scale says."""
        return (self.min_scale if self.reachable else 0), self.max_scale


def decider_spec(
    annotations: Mapping[str, str],
    container_concurrency: int,
    config: AutoscalerConfig | None = None,
    *,
    stable_window_override_s: float | None = None,
    reachable: bool = True,
) -> DeciderSpec:
    """Build the spec of one revision; ``stable_window_override_s`` (tests) wins over annotation and config."""
    cfg = config or AutoscalerConfig()
    ann = _Annotations(annotations)

    cls = ann.get("class")
    if cls is not None and cls != KPA_CLASS:
        raise AnnotationError(PREFIX + "class", cls, f"the local runtime implements only {KPA_CLASS}")
    metric = ann.get("metric") or "concurrency"
    if metric not in ("concurrency", "rps"):
        raise AnnotationError(PREFIX + "metric", metric, "the KPA supports concurrency or rps")

    # ResolveMetricTarget
    if metric == "rps":
        total, utilization = cfg.requests_per_second_target_default, cfg.rps_target_utilization
    else:
        total = (
            float(container_concurrency)
            if container_concurrency > 0
            else cfg.container_concurrency_target_default
        )
        utilization = cfg.container_concurrency_target_percentage / 100
    target = ann.number("target", lo=TARGET_MIN)
    if target is not None:
        total = (
            min(target, container_concurrency)
            if metric == "concurrency" and container_concurrency
            else target
        )
    tu = ann.number("target-utilization-percentage", "targetUtilizationPercentage", lo=1, hi=100)
    if tu is not None:
        utilization = tu / 100
    target_value = max(TARGET_MIN, total * utilization)

    stable = ann.duration("window", lo=WINDOW_MIN_S, hi=WINDOW_MAX_S, whole=True)
    stable_window = stable if stable is not None else cfg.stable_window_s
    if stable_window_override_s is not None:
        stable_window = stable_window_override_s
    pwp = ann.number("panic-window-percentage", "panicWindowPercentage", lo=1, hi=100)
    panic_pct = pwp if pwp is not None else cfg.panic_window_percentage
    # Go's Duration.Round: half away from zero, to whole buckets, at least one bucket.
    panic_window = max(BUCKET_S, math.floor(stable_window * panic_pct / 100 / BUCKET_S + 0.5) * BUCKET_S)
    ptp = ann.number("panic-threshold-percentage", "panicThresholdPercentage", lo=110, hi=1000)
    threshold = (ptp if ptp is not None else cfg.panic_threshold_percentage) / 100

    tbc = ann.number("target-burst-capacity", "targetBurstCapacity", lo=-1)
    if tbc is not None and tbc < 0 and tbc != -1:
        raise AnnotationError(PREFIX + "target-burst-capacity", str(tbc), "must be -1 or >= 0")
    sdd = ann.duration("scale-down-delay", "scaleDownDelay", lo=0, hi=WINDOW_MAX_S, whole=True)
    retention = ann.duration(
        "scale-to-zero-pod-retention-period", "scaleToZeroPodRetentionPeriod", lo=0, hi=WINDOW_MAX_S
    )
    algorithm = ann.get("metric-aggregation-algorithm", "metricAggregationAlgorithm") or "linear"
    if algorithm not in ("linear", "weighted-exponential", "weightedExponential"):
        raise AnnotationError(
            PREFIX + "metric-aggregation-algorithm", algorithm, "must be linear or weighted-exponential"
        )

    min_scale, max_scale, initial, activation = _scale_bounds(ann, cfg)
    return DeciderSpec(
        metric=metric,
        target_value=target_value,
        total_value=total,
        target_burst_capacity=tbc if tbc is not None else cfg.target_burst_capacity,
        panic_threshold=threshold,
        max_scale_up_rate=cfg.max_scale_up_rate,
        max_scale_down_rate=cfg.max_scale_down_rate,
        stable_window_s=stable_window,
        panic_window_s=panic_window,
        scale_down_delay_s=sdd if sdd is not None else cfg.scale_down_delay_s,
        aggregation="linear" if algorithm == "linear" else "weighted-exponential",
        activation_scale=activation,
        min_scale=min_scale,
        max_scale=max_scale,
        initial_scale=initial,
        enable_scale_to_zero=cfg.enable_scale_to_zero,
        scale_to_zero_grace_s=cfg.scale_to_zero_grace_period_s,
        scale_to_zero_pod_retention_s=(
            retention if retention is not None else cfg.scale_to_zero_pod_retention_period_s
        )
        if reachable
        else 0.0,
        activation_timeout_s=cfg.progress_deadline_s + ACTIVATION_TIMEOUT_BUFFER_S,
        container_concurrency=container_concurrency,
        reachable=reachable,
    )


def _scale_bounds(ann: _Annotations, cfg: AutoscalerConfig) -> tuple[int, int, int, int]:
    min_scale = ann.integer("min-scale", "minScale", lo=0)
    max_scale = ann.integer("max-scale", "maxScale", lo=0)
    lo = cfg.min_scale if min_scale is None else min_scale
    hi = cfg.max_scale if max_scale is None else max_scale
    if cfg.max_scale_limit and max_scale is not None and (hi == 0 or hi > cfg.max_scale_limit):
        raise AnnotationError(PREFIX + "max-scale", str(hi), f"must be in [1, {cfg.max_scale_limit}]")
    if hi and lo > hi:
        raise AnnotationError(PREFIX + "min-scale", str(lo), f"must be <= max-scale {hi}")
    initial = ann.integer("initial-scale", "initialScale", lo=0)
    if initial == 0 and not cfg.allow_zero_initial_scale:
        raise AnnotationError(
            PREFIX + "initial-scale", "0", "0 needs allow-zero-initial-scale in config-autoscaler"
        )
    activation = ann.integer("activation-scale", lo=2)
    if activation is not None and (activation < lo or (hi and activation > hi)):
        raise AnnotationError(
            PREFIX + "activation-scale", str(activation), f"must be within [{lo}, {hi or 'inf'}]"
        )
    return lo, hi, cfg.initial_scale if initial is None else initial, activation or 1


def _check_window(key: str, seconds: float) -> None:
    if not WINDOW_MIN_S <= seconds <= WINDOW_MAX_S or seconds != int(seconds):
        raise AnnotationError(key, f"{seconds}s", "must be whole seconds in [6s, 1h]")


def _int(key: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise AnnotationError(key, raw, "must be an integer") from exc


def _float(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise AnnotationError(key, raw, "must be a number") from exc
    if not math.isfinite(value):
        raise AnnotationError(key, raw, "must be finite")
    return value


def _duration(key: str, raw: str) -> float:
    try:
        return parse_go_duration(raw)
    except ValueError as exc:
        raise AnnotationError(key, raw, str(exc)) from exc


class _Annotations:
    """Typed, range-checked reads of ``autoscaling.knative.dev/*`` keys and their legacy camelCase aliases."""

    def __init__(self, annotations: Mapping[str, str]) -> None:
        self.annotations = annotations

    def get(self, name: str, alias: str | None = None) -> str | None:
        found = [
            (PREFIX + n, self.annotations[PREFIX + n])
            for n in (name, alias)
            if n and PREFIX + n in self.annotations
        ]
        if len(found) > 1:
            raise AnnotationError(
                found[1][0], found[1][1], f"set only one of {found[0][0]} and {found[1][0]}"
            )
        return found[0][1] if found else None

    def _key(self, name: str, alias: str | None) -> str:
        return PREFIX + (alias if alias and PREFIX + alias in self.annotations else name)

    def number(
        self, name: str, alias: str | None = None, *, lo: float, hi: float | None = None
    ) -> float | None:
        raw = self.get(name, alias)
        if raw is None:
            return None
        key = self._key(name, alias)
        value = _float(key, raw)
        if value < lo or (hi is not None and value > hi):
            raise AnnotationError(
                key, raw, f"must be in [{lo:g}, {hi:g}]" if hi is not None else f"must be >= {lo:g}"
            )
        return value

    def integer(self, name: str, alias: str | None = None, *, lo: int) -> int | None:
        raw = self.get(name, alias)
        if raw is None:
            return None
        key = self._key(name, alias)
        value = _int(key, raw)
        if value < lo:
            raise AnnotationError(key, raw, f"must be >= {lo}")
        return value

    def duration(
        self, name: str, alias: str | None = None, *, lo: float, hi: float, whole: bool = False
    ) -> float | None:
        raw = self.get(name, alias)
        if raw is None:
            return None
        key = self._key(name, alias)
        value = _duration(key, raw)
        if not lo <= value <= hi or (whole and value != int(value)):
            raise AnnotationError(
                key, raw, f"must be {'whole seconds ' if whole else ''}in [{lo:g}s, {hi:g}s]"
            )
        return value
