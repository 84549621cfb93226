"""Pure cross-object rules over the whole manifest set: references resolve, names are unique."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tui.validate.model import Finding, Manifest, join_path
from tui.validate.rules_eventing import BROKER_CLASS, RABBITMQ_BROKER

DEFAULT_NAMESPACE = "default"

Key = tuple[str, str, str, str]  # group, kind, namespace, name


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _namespace(manifest: Manifest) -> str:
    return manifest.namespace or DEFAULT_NAMESPACE


class Index:
    """Manifests by group, kind, namespace and name."""

    def __init__(self, manifests: Iterable[Manifest]):
        self.by_key: dict[Key, Manifest] = {}
        self.duplicates: list[tuple[Manifest, Manifest]] = []
        for manifest in manifests:
            key = (manifest.group, manifest.kind, _namespace(manifest), manifest.name)
            if key in self.by_key:
                self.duplicates.append((self.by_key[key], manifest))
            else:
                self.by_key[key] = manifest

    def resolve(self, ref: Mapping[str, Any], default_namespace: str) -> Manifest | None:
        key = (
            _group(str(ref.get("apiVersion", ""))),
            str(ref.get("kind", "")),
            str(ref.get("namespace") or default_namespace),
            str(ref.get("name", "")),
        )
        return self.by_key.get(key)

    def of_kind(self, group: str, kind: str) -> list[Manifest]:
        return [m for (g, k, _, _), m in self.by_key.items() if g == group and k == kind]


def _check_ref(
    index: Index, owner: Manifest, ref: Any, path: Sequence[str | int], what: str
) -> list[Finding]:
    if not isinstance(ref, Mapping):
        return []
    if index.resolve(ref, _namespace(owner)) is None:
        target = f"{ref.get('kind')}/{ref.get('name')} ({ref.get('apiVersion')}) in namespace " + str(
            ref.get("namespace") or _namespace(owner)
        )
        return [Finding.at(owner, join_path(path), f"{what} {target} is not among the manifests")]
    return []


def _delivery_refs(index: Index, owner: Manifest) -> list[Finding]:
    delivery = owner.spec.get("delivery")
    if not isinstance(delivery, Mapping) or not isinstance(delivery.get("deadLetterSink"), Mapping):
        return []
    path = ["spec", "delivery", "deadLetterSink", "ref"]
    return _check_ref(index, owner, delivery["deadLetterSink"].get("ref"), path, "dead-letter sink")


def check_references(manifests: Sequence[Manifest]) -> list[Finding]:
    index = Index(manifests)
    findings: list[Finding] = []
    for first, again in index.duplicates:
        findings.append(
            Finding.at(again, "metadata.name", f"{again.kind}/{again.name} is also defined in {first.file}")
        )
    for trigger in index.of_kind("eventing.knative.dev", "Trigger"):
        broker_name = trigger.spec.get("broker")
        if isinstance(broker_name, str) and broker_name:
            ref = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": broker_name}
            broker = index.resolve(ref, _namespace(trigger))
            if broker is None:
                findings.append(
                    Finding.at(trigger, "spec.broker", f"Broker {broker_name!r} is not among the manifests")
                )
            elif broker.annotations.get(BROKER_CLASS) != RABBITMQ_BROKER:
                findings.append(
                    Finding.at(
                        trigger, "spec.broker", f"Broker {broker_name!r} is not of class {RABBITMQ_BROKER}"
                    )
                )
        subscriber = trigger.spec.get("subscriber")
        if isinstance(subscriber, Mapping):
            findings.extend(
                _check_ref(index, trigger, subscriber.get("ref"), ["spec", "subscriber", "ref"], "subscriber")
            )
        findings.extend(_delivery_refs(index, trigger))
    for broker in index.of_kind("eventing.knative.dev", "Broker"):
        findings.extend(_delivery_refs(index, broker))
        config = broker.spec.get("config")
        if isinstance(config, Mapping):
            findings.extend(_check_ref(index, broker, config, ["spec", "config"], "config"))
    for config in index.of_kind("eventing.knative.dev", "RabbitmqBrokerConfig"):
        cluster = config.spec.get("rabbitmqClusterReference")
        if isinstance(cluster, Mapping) and cluster.get("name"):
            ref = {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", **cluster}
            findings.extend(
                _check_ref(index, config, ref, ["spec", "rabbitmqClusterReference"], "RabbitMQ cluster")
            )
    for binding in index.of_kind("sources.knative.dev", "SinkBinding"):
        sink = binding.spec.get("sink")
        if isinstance(sink, Mapping):
            findings.extend(_check_ref(index, binding, sink.get("ref"), ["spec", "sink", "ref"], "sink"))
        findings.extend(_check_subject(index, binding))
    return findings


def _check_subject(index: Index, binding: Manifest) -> list[Finding]:
    subject = binding.spec.get("subject")
    if not isinstance(subject, Mapping):
        return []
    if subject.get("name"):
        return _check_ref(index, binding, subject, ["spec", "subject"], "subject")
    selector = subject.get("selector")
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    if not isinstance(labels, Mapping):
        return []
    group, kind = _group(str(subject.get("apiVersion", ""))), str(subject.get("kind", ""))
    namespace = str(subject.get("namespace") or _namespace(binding))
    for candidate in index.of_kind(group, kind):
        mine = candidate.metadata.get("labels")
        if (
            _namespace(candidate) == namespace
            and isinstance(mine, Mapping)
            and all(mine.get(k) == v for k, v in labels.items())
        ):
            return []
    return [
        Finding.at(
            binding,
            "spec.subject.selector",
            f"matches no {kind} among the manifests (nothing would get K_SINK)",
        )
    ]
