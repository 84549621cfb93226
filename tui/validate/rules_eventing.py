"""Pure admission rules for Brokers, Triggers and RabbitmqBrokerConfigs that the CRDs leave out.

Sources: knative/eventing delivery_types.go and trigger_validation.go, eventing-rabbitmq
broker_validation.go, trigger_validation.go and rabbitmq_validation.go (see knative.md §2.3, §2.4, §3.2-3.4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from tui.validate.durations import DurationError, parse_iso8601_duration
from tui.validate.model import Finding, Manifest, Severity, join_path

BROKER_CLASS = "eventing.knative.dev/broker.class"
RABBITMQ_BROKER = "RabbitMQBroker"
PARALLELISM = "rabbitmq.eventing.knative.dev/parallelism"
RESOURCE_ANNOTATIONS = tuple(
    f"rabbitmq.eventing.knative.dev/{name}"
    for name in ("cpu-request", "cpu-limit", "memory-request", "memory-limit")
)
FILTER_NAME = re.compile(r"^[a-z][a-z0-9]*$")
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[mkMGTPE])?$")
DELIVERY_KEYS = {
    "deadLetterSink",
    "retry",
    "backoffPolicy",
    "backoffDelay",
    "timeout",
    "retryAfterMax",
    "format",
}
CONFIG_KIND = ("eventing.knative.dev/v1alpha1", "RabbitmqBrokerConfig")

Path = list[str | int]


def check_destination(dest: Any, path: Path) -> list[tuple[Path, str]]:
    """A Destination needs a ref or an absolute uri; a ref needs apiVersion, kind and name."""
    if not isinstance(dest, Mapping):
        return [(path, "must be an object with ref and/or uri")]
    ref, uri = dest.get("ref"), dest.get("uri")
    problems: list[tuple[Path, str]] = []
    if ref is None and not uri:
        problems.append((path, "needs ref or uri"))
    if isinstance(ref, Mapping):
        for field in ("apiVersion", "kind", "name"):
            if not ref.get(field):
                problems.append(([*path, "ref", field], "is required"))
    if uri and ref is None:
        parsed = urlparse(str(uri))
        if not (parsed.scheme and parsed.netloc):
            problems.append(
                ([*path, "uri"], f"{uri!r} is not an absolute URL (there is no ref to resolve it against)")
            )
    return problems


def check_delivery(delivery: Any, path: Path) -> list[tuple[Path, str]]:
    """DeliverySpec: enums, ISO-8601 durations, non-negative retry, destination shape, no unknown keys."""
    if not isinstance(delivery, Mapping):
        return [(path, "must be an object")]
    problems: list[tuple[Path, str]] = []
    for key in delivery:
        if key not in DELIVERY_KEYS:
            problems.append(
                ([*path, key], f"unknown delivery field (known: {', '.join(sorted(DELIVERY_KEYS))})")
            )
    retry = delivery.get("retry")
    if retry is not None and (not isinstance(retry, int) or isinstance(retry, bool) or retry < 0):
        problems.append(([*path, "retry"], f"{retry!r} must be an integer ≥ 0"))
    policy = delivery.get("backoffPolicy")
    if policy is not None and policy not in ("linear", "exponential"):
        problems.append(([*path, "backoffPolicy"], f"{policy!r} is not linear or exponential"))
    fmt = delivery.get("format")
    if fmt is not None and fmt not in ("json", "binary"):
        problems.append(([*path, "format"], f"{fmt!r} is not json or binary"))
    for key, positive in (("backoffDelay", False), ("timeout", True), ("retryAfterMax", False)):
        value = delivery.get(key)
        if value is None:
            continue
        try:
            seconds = parse_iso8601_duration(str(value))
        except DurationError as exc:
            problems.append(([*path, key], str(exc)))
            continue
        if seconds < 0 or (positive and seconds == 0):
            problems.append(([*path, key], f"{value} must be {'> 0' if positive else '≥ 0'}"))
    if "deadLetterSink" in delivery:
        problems.extend(check_destination(delivery["deadLetterSink"], [*path, "deadLetterSink"]))
    return problems


def _findings(manifest: Manifest, problems: list[tuple[Path, str]]) -> list[Finding]:
    return [Finding.at(manifest, join_path(p), message) for p, message in problems]


def _resource_annotations(manifest: Manifest) -> list[Finding]:
    findings = []
    for key in RESOURCE_ANNOTATIONS:
        value = manifest.annotations.get(key)
        if value is not None and not QUANTITY.match(str(value)):
            findings.append(
                Finding.at(
                    manifest, join_path(["metadata", "annotations", key]), f"{value!r} is not a quantity"
                )
            )
    return findings


def check_broker(manifest: Manifest) -> list[Finding]:
    findings = _resource_annotations(manifest)
    cls = manifest.annotations.get(BROKER_CLASS)
    if cls != RABBITMQ_BROKER:
        findings.append(
            Finding.at(
                manifest,
                join_path(["metadata", "annotations", BROKER_CLASS]),
                f"is {cls!r}; this project's brokers must be {RABBITMQ_BROKER} (per-trigger queues, exact filters)",
            )
        )
    config = manifest.spec.get("config")
    if not isinstance(config, Mapping):
        findings.append(Finding.at(manifest, "spec.config", "is required for a RabbitMQBroker"))
    else:
        kind = (config.get("apiVersion"), config.get("kind"))
        if kind == ("rabbitmq.com/v1beta1", "RabbitmqCluster"):
            findings.append(
                Finding.at(
                    manifest,
                    "spec.config",
                    "a direct RabbitmqCluster reference is deprecated and forces classic queues; "
                    "point at a RabbitmqBrokerConfig",
                    Severity.WARNING,
                )
            )
        elif kind != CONFIG_KIND:
            findings.append(
                Finding.at(
                    manifest,
                    "spec.config",
                    f"must reference {CONFIG_KIND[1]} ({CONFIG_KIND[0]}), not {kind[1]!r}",
                )
            )
        if not config.get("name"):
            findings.append(Finding.at(manifest, "spec.config.name", "is required"))
    if "delivery" in manifest.spec:
        findings.extend(_findings(manifest, check_delivery(manifest.spec["delivery"], ["spec", "delivery"])))
    return findings


def check_trigger(manifest: Manifest) -> list[Finding]:
    findings = _resource_annotations(manifest)
    spec = manifest.spec
    if not spec.get("broker") and not spec.get("brokerRef"):
        findings.append(Finding.at(manifest, "spec.broker", "is required"))
    parallelism = manifest.annotations.get(PARALLELISM)
    if parallelism is not None:
        path = join_path(["metadata", "annotations", PARALLELISM])
        try:
            value = int(str(parallelism))
        except ValueError:
            findings.append(Finding.at(manifest, path, f"{parallelism!r} is not an integer"))
        else:
            if not 1 <= value <= 1000:
                findings.append(Finding.at(manifest, path, f"{value} is outside 1 … 1000"))
    if spec.get("filters"):
        findings.append(
            Finding.at(
                manifest,
                "spec.filters",
                "is not supported by the RabbitMQ broker (it is ignored, so the trigger matches every event); "
                "use spec.filter.attributes",
            )
        )
    filt = spec.get("filter")
    if filt is not None:
        attributes = filt.get("attributes") if isinstance(filt, Mapping) else None
        if not isinstance(attributes, Mapping):
            findings.append(Finding.at(manifest, "spec.filter", "needs attributes (a map of name to value)"))
        else:
            for name, value in attributes.items():
                path = join_path(["spec", "filter", "attributes", str(name)])
                if not FILTER_NAME.match(str(name)):
                    findings.append(
                        Finding.at(
                            manifest, path, f"attribute name {name!r} must match {FILTER_NAME.pattern}"
                        )
                    )
                if not isinstance(value, str):
                    findings.append(
                        Finding.at(
                            manifest, path, f"value {value!r} must be a string (headers match by type)"
                        )
                    )
    if "subscriber" not in spec:
        findings.append(Finding.at(manifest, "spec.subscriber", "is required"))
    else:
        findings.extend(_findings(manifest, check_destination(spec["subscriber"], ["spec", "subscriber"])))
    if "delivery" in spec:
        findings.extend(_findings(manifest, check_delivery(spec["delivery"], ["spec", "delivery"])))
    return findings


def check_broker_config(manifest: Manifest) -> list[Finding]:
    ref = manifest.spec.get("rabbitmqClusterReference")
    if not isinstance(ref, Mapping):
        return [Finding.at(manifest, "spec.rabbitmqClusterReference", "is required")]
    if bool(ref.get("name")) == bool(ref.get("connectionSecret")):
        return [
            Finding.at(
                manifest, "spec.rabbitmqClusterReference", "needs exactly one of name or connectionSecret"
            )
        ]
    return []
