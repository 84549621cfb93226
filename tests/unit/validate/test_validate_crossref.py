"""Cross-object rules: triggers reach a RabbitMQ broker, references resolve, names are unique."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tui.validate.crossref import check_references
from tui.validate.model import Manifest

NS = "observatory"


def obj(api: str, kind: str, name: str, spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, **meta},
        "spec": spec or {},
    }


def ksvc(name: str) -> dict[str, Any]:
    return obj("serving.knative.dev/v1", "Service", name, labels={"observatory.dev/sink": "broker"})


def sref(name: str) -> dict[str, Any]:
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": name}


BASE: list[dict[str, Any]] = [
    obj("rabbitmq.com/v1beta1", "RabbitmqCluster", "rabbitmq"),
    obj(
        "eventing.knative.dev/v1alpha1",
        "RabbitmqBrokerConfig",
        "cfg",
        {"rabbitmqClusterReference": {"name": "rabbitmq", "namespace": NS}},
    ),
    obj(
        "eventing.knative.dev/v1",
        "Broker",
        "default",
        {
            "config": {
                "apiVersion": "eventing.knative.dev/v1alpha1",
                "kind": "RabbitmqBrokerConfig",
                "name": "cfg",
            },
            "delivery": {"deadLetterSink": {"ref": sref("deadletter")}},
        },
        annotations={"eventing.knative.dev/broker.class": "RabbitMQBroker"},
    ),
    ksvc("processor"),
    ksvc("deadletter"),
    obj(
        "eventing.knative.dev/v1",
        "Trigger",
        "processor",
        {
            "broker": "default",
            "subscriber": {"ref": sref("processor")},
            "delivery": {"deadLetterSink": {"ref": sref("deadletter")}},
        },
    ),
    obj(
        "sources.knative.dev/v1",
        "SinkBinding",
        "sink",
        {
            "subject": {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "selector": {"matchLabels": {"observatory.dev/sink": "broker"}},
            },
            "sink": {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}},
        },
    ),
]


def find(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def drop(kind: str, name: str) -> Callable[[list[dict[str, Any]]], None]:
    return lambda objs: objs.remove(find(objs, kind, name))


def set_in(kind: str, name: str, path: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(objs: list[dict[str, Any]]) -> None:
        node = find(objs, kind, name)
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda objs: None, []),
        (drop("Broker", "default"), [("Trigger", "spec.broker"), ("SinkBinding", "spec.sink.ref")]),
        (set_in("Broker", "default", "metadata.annotations", {}), [("Trigger", "spec.broker")]),
        (drop("Service", "processor"), [("Trigger", "spec.subscriber.ref")]),
        (
            drop("Service", "deadletter"),
            [("Trigger", "spec.delivery.deadLetterSink.ref"), ("Broker", "spec.delivery.deadLetterSink.ref")],
        ),
        (drop("RabbitmqBrokerConfig", "cfg"), [("Broker", "spec.config")]),
        (drop("RabbitmqCluster", "rabbitmq"), [("RabbitmqBrokerConfig", "spec.rabbitmqClusterReference")]),
        (set_in("Trigger", "processor", "spec.broker", "other"), [("Trigger", "spec.broker")]),
        (
            set_in("Trigger", "processor", "metadata.namespace", "elsewhere"),
            [
                ("Trigger", "spec.broker"),
                ("Trigger", "spec.subscriber.ref"),
                ("Trigger", "spec.delivery.deadLetterSink.ref"),
            ],
        ),
        (set_in("Service", "processor", "metadata.labels", {}), []),  # deadletter still matches
        (
            lambda objs: [
                set_in("Service", n, "metadata.labels", {})(objs) for n in ("processor", "deadletter")
            ],
            [("SinkBinding", "spec.subject.selector")],
        ),
        (lambda objs: objs.append(ksvc("processor")), [("Service", "metadata.name")]),
    ],
)
def test_references(mutate: Callable[[list[dict[str, Any]]], Any], expected: list[tuple[str, str]]) -> None:
    objs = copy.deepcopy(BASE)
    mutate(objs)
    findings = check_references([Manifest(f"{o['kind']}.yaml", o) for o in objs])
    assert sorted((f.kind, f.path) for f in findings) == sorted(expected)
