"""Admission rules for Triggers, Brokers, DeliverySpecs and RabbitmqBrokerConfigs (knative.md §2.3, §2.4, §3.2-3.4)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tui.validate.model import Manifest, Severity
from tui.validate.rules_eventing import check_broker, check_broker_config, check_delivery, check_trigger

SVC = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "sink"}


@pytest.mark.parametrize(
    ("delivery", "paths"),
    [
        ({}, []),
        ({"retry": 3, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S", "timeout": "PT10S"}, []),
        ({"deadLetterSink": {"ref": SVC}}, []),
        ({"deadLetterSink": {"uri": "http://dls.example/x"}}, []),
        ({"retry": -1}, ["retry"]),
        ({"retry": "3"}, ["retry"]),
        ({"backoffPolicy": "Exponential"}, ["backoffPolicy"]),
        ({"backoffDelay": "0.2s"}, ["backoffDelay"]),
        ({"backoffDelay": "PT0S"}, []),
        ({"timeout": "PT0S"}, ["timeout"]),
        ({"timeout": "10"}, ["timeout"]),
        ({"format": "structured"}, ["format"]),
        ({"format": "binary"}, []),
        ({"retries": 3}, ["retries"]),
        ({"deadLetterSink": {}}, ["deadLetterSink"]),
        ({"deadLetterSink": {"uri": "/relative"}}, ["deadLetterSink.uri"]),
        ({"deadLetterSink": {"ref": {"kind": "Service", "name": "x"}}}, ["deadLetterSink.ref.apiVersion"]),
    ],
)
def test_delivery(delivery: dict[str, Any], paths: list[str]) -> None:
    problems = check_delivery(delivery, [])
    assert [".".join(map(str, p)) for p, _ in problems] == paths


TRIGGER: dict[str, Any] = {
    "apiVersion": "eventing.knative.dev/v1",
    "kind": "Trigger",
    "metadata": {"name": "t", "annotations": {"rabbitmq.eventing.knative.dev/parallelism": "4"}},
    "spec": {
        "broker": "default",
        "filter": {"attributes": {"type": "dev.observatory.job.submitted"}},
        "subscriber": {"ref": SVC},
    },
}


def trigger(**changes: Any) -> Manifest:
    obj = copy.deepcopy(TRIGGER)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = obj
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return Manifest("t.yaml", obj)


PAR = "metadata.annotations[rabbitmq.eventing.knative.dev/parallelism]"


@pytest.mark.parametrize(
    ("manifest", "paths"),
    [
        (trigger(), []),
        (trigger(spec__filter=None), []),
        (trigger(spec__broker=None), ["spec.broker"]),
        (trigger(metadata__annotations={"rabbitmq.eventing.knative.dev/parallelism": "0"}), [PAR]),
        (trigger(metadata__annotations={"rabbitmq.eventing.knative.dev/parallelism": "1001"}), [PAR]),
        (trigger(metadata__annotations={"rabbitmq.eventing.knative.dev/parallelism": "1000"}), []),
        (trigger(metadata__annotations={"rabbitmq.eventing.knative.dev/parallelism": "many"}), [PAR]),
        (trigger(spec__filters=[{"prefix": {"type": "dev.observatory."}}]), ["spec.filters"]),
        (trigger(spec__filter={"attributes": {"Type": "x"}}), ["spec.filter.attributes.Type"]),
        (trigger(spec__filter={"attributes": {"job-type": "x"}}), ["spec.filter.attributes.job-type"]),
        (trigger(spec__filter={"attributes": {"9type": "x"}}), ["spec.filter.attributes.9type"]),
        (trigger(spec__filter={"attributes": {"jobtype": 3}}), ["spec.filter.attributes.jobtype"]),
        (trigger(spec__filter={"attribute": {"type": "x"}}), ["spec.filter"]),
        (trigger(spec__subscriber=None), ["spec.subscriber"]),
        (trigger(spec__subscriber={"uri": "http://x.example"}), []),
        (trigger(spec__delivery={"backoffPolicy": "quadratic"}), ["spec.delivery.backoffPolicy"]),
        (
            trigger(metadata__annotations={"rabbitmq.eventing.knative.dev/cpu-request": "lots"}),
            ["metadata.annotations[rabbitmq.eventing.knative.dev/cpu-request]"],
        ),
        (trigger(metadata__annotations={"rabbitmq.eventing.knative.dev/memory-limit": "600Mi"}), []),
    ],
)
def test_trigger(manifest: Manifest, paths: list[str]) -> None:
    assert [f.path for f in check_trigger(manifest)] == paths


CONFIG_REF = {"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "RabbitmqBrokerConfig", "name": "cfg"}
CLASS = {"eventing.knative.dev/broker.class": "RabbitMQBroker"}
CLASS_PATH = "metadata.annotations[eventing.knative.dev/broker.class]"


def broker(annotations: dict[str, str], spec: dict[str, Any]) -> Manifest:
    obj = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "default", "annotations": annotations},
        "spec": spec,
    }
    return Manifest("b.yaml", obj)


@pytest.mark.parametrize(
    ("manifest", "paths"),
    [
        (broker(CLASS, {"config": CONFIG_REF}), []),
        (broker(CLASS, {"config": CONFIG_REF, "delivery": {"retry": 3}}), []),
        (broker({}, {"config": CONFIG_REF}), [CLASS_PATH]),
        (
            broker({"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}, {"config": CONFIG_REF}),
            [CLASS_PATH],
        ),
        (broker(CLASS, {}), ["spec.config"]),
        (broker(CLASS, {"config": {**CONFIG_REF, "kind": "ConfigMap", "apiVersion": "v1"}}), ["spec.config"]),
        (broker(CLASS, {"config": {**CONFIG_REF, "name": ""}}), ["spec.config.name"]),
        (
            broker(CLASS, {"config": CONFIG_REF, "delivery": {"backoffDelay": "1s"}}),
            ["spec.delivery.backoffDelay"],
        ),
    ],
)
def test_broker(manifest: Manifest, paths: list[str]) -> None:
    assert [f.path for f in check_broker(manifest) if f.severity is Severity.ERROR] == paths


def test_broker_direct_cluster_reference_is_a_warning() -> None:
    ref = {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "name": "rabbitmq"}
    (finding,) = check_broker(broker(CLASS, {"config": ref}))
    assert finding.severity is Severity.WARNING


@pytest.mark.parametrize(
    ("spec", "paths"),
    [
        ({"rabbitmqClusterReference": {"name": "rabbitmq"}}, []),
        ({"rabbitmqClusterReference": {"connectionSecret": {"name": "s"}}}, []),
        (
            {"rabbitmqClusterReference": {"name": "r", "connectionSecret": {"name": "s"}}},
            ["spec.rabbitmqClusterReference"],
        ),
        ({"rabbitmqClusterReference": {}}, ["spec.rabbitmqClusterReference"]),
        ({}, ["spec.rabbitmqClusterReference"]),
    ],
)
def test_broker_config(spec: dict[str, Any], paths: list[str]) -> None:
    obj = {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "RabbitmqBrokerConfig",
        "metadata": {"name": "c"},
    }
    assert [f.path for f in check_broker_config(Manifest("c.yaml", {**obj, "spec": spec}))] == paths
