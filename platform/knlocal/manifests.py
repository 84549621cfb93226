"""Read the ``knative/`` manifests into frozen values: the one description of the topology.

The local runtime and a cluster apply the same files. This module keeps what the runtime needs
(Services, Brokers, Triggers, RabbitmqBrokerConfigs, SinkBindings) and checks what a Knative
webhook would reject, naming the file, the object and the field path in every error.

Things a cluster has and the runtime deliberately does not use are recorded, not guessed at:

* Container ``env`` entries with ``valueFrom`` and the whole ``envFrom`` list are ignored locally.
  The cluster fills them from the ConfigMap/Secret; the runtime passes its own settings
  (``knlocal.config``) to every function instead, so ``Service.env`` holds only literal values.
* ``spec.filters`` on a Trigger is not supported by the RabbitMQ broker, which then matches every
  event; such Triggers load (``has_filters=True``) and add a line to ``Topology.warnings``.
* Namespace, ConfigMap and Kustomization documents are known and skipped; unknown kinds warn.

Longer than most modules on purpose: it is the one reader of ``knative/`` (values, a typed accessor
that knows the field path for errors, one small parser per kind, cross-reference checks), and
splitting it would scatter the webhook rules a reader wants to see side by side.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

__all__ = [
    "PARALLELISM_ANNOTATION",
    "Broker",
    "BrokerConfig",
    "DeliverySpec",
    "Destination",
    "ManifestError",
    "Ref",
    "Service",
    "SinkBinding",
    "Topology",
    "Trigger",
    "load_topology",
    "parse_iso8601_duration",
]

BROKER_CLASS_ANNOTATION = "eventing.knative.dev/broker.class"
RABBITMQ_BROKER_CLASS = "RabbitMQBroker"
PARALLELISM_ANNOTATION = "rabbitmq.eventing.knative.dev/parallelism"
LOCAL_PORT_ANNOTATION = "observatory.dev/local-port"
# Kinds a cluster needs that carry nothing the local runtime uses.
_SKIPPED_KINDS = frozenset({"Namespace", "ConfigMap", "Kustomization"})
_FILTER_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9]*$")


class ManifestError(Exception):
    """A manifest the runtime (or a Knative webhook) would reject; the message names file, object and path."""

    def __init__(self, file: str, obj: str, path: str, problem: str) -> None:
        self.file = file
        self.obj = obj
        self.path = path
        self.problem = problem
        where = f"{file}: {obj}" if obj else file
        super().__init__(f"{where}: {path}: {problem}" if path else f"{where}: {problem}")


# ---------------------------------------------------------------------------------------------
# ISO-8601 durations (DeliverySpec backoffDelay / timeout)

_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<y>\d+(?:[.,]\d+)?)Y)?(?:(?P<mo>\d+(?:[.,]\d+)?)M)?(?:(?P<w>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<d>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<mi>\d+(?:[.,]\d+)?)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?$"
)
_ISO_SECONDS = {"w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "mi": 60.0, "s": 1.0}


def parse_iso8601_duration(text: str) -> float:
    """Seconds in an ISO-8601 duration such as ``PT0.2S``, ``PT1M30S``, ``P1D`` or ``P1W``.

    Years and months are rejected: they have no fixed length in seconds, and no retry delay needs them.
    Raises ``ValueError`` with the reason.
    """
    match = _ISO_DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO-8601 duration (e.g. PT0.2S, PT1M30S, P1D)")
    parts = match.groupdict()
    if parts["y"] is not None or parts["mo"] is not None:
        raise ValueError(f"{text!r} uses years or months, which have no fixed length")
    return sum(
        float(parts[k].replace(",", ".")) * unit for k, unit in _ISO_SECONDS.items() if parts[k] is not None
    )


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Ref:
    """A KReference: ``apiVersion``/``kind``/``name``/``namespace`` of another object."""

    api_version: str
    kind: str
    name: str
    namespace: str


@dataclass(frozen=True)
class Destination:
    """A duck Destination: a ``ref`` (resolved to its address), a ``uri``, or both (uri relative to ref)."""

    ref: Ref | None = None
    uri: str | None = None

    @property
    def service_name(self) -> str | None:
        """The Knative Service this destination addresses, if it is one."""
        if (
            self.ref is not None
            and self.ref.kind == "Service"
            and self.ref.api_version.startswith("serving.knative.dev/")
        ):
            return self.ref.name
        return None


@dataclass(frozen=True)
class DeliverySpec:
    """``spec.delivery`` of a Broker or Trigger. ``retry`` counts retries after the first attempt."""

    retry: int | None = None
    backoff_policy: str | None = None  # "linear" | "exponential"
    backoff_delay_s: float | None = None
    timeout_s: float | None = None
    dead_letter_sink: Destination | None = None


@dataclass(frozen=True)
class Service:
    """A ``serving.knative.dev/v1`` Service, reduced to what the runtime hosts.

    ``annotations`` are the revision template's (where autoscaling annotations belong);
    ``env`` holds literal ``value`` entries only (see the module docstring).
    """

    name: str
    namespace: str
    image: str
    env: Mapping[str, str]
    annotations: Mapping[str, str]
    labels: Mapping[str, str]
    container_concurrency: int
    timeout_seconds: int
    readiness_path: str | None
    local_port: int | None
    function_target: str | None
    function_source: str | None
    file: str = ""


@dataclass(frozen=True)
class Broker:
    name: str
    namespace: str
    cls: str
    config_ref: Ref | None
    delivery: DeliverySpec | None
    file: str = ""


@dataclass(frozen=True)
class BrokerConfig:
    """A ``RabbitmqBrokerConfig``."""

    name: str
    namespace: str
    cluster_ref: Ref | None
    connection_secret: str | None
    queue_type: str
    vhost: str
    file: str = ""


@dataclass(frozen=True)
class Trigger:
    name: str
    namespace: str
    broker: str
    filter_attributes: Mapping[str, str]
    has_filters: bool
    subscriber: Destination
    delivery: DeliverySpec | None
    parallelism: int
    annotations: Mapping[str, str]
    file: str = ""


@dataclass(frozen=True)
class SinkBinding:
    """Which Services get ``K_SINK`` and where it points (by name or by label selector)."""

    name: str
    namespace: str
    subject_kind: str
    subject_name: str | None
    subject_selector: Mapping[str, str]
    sink: Destination
    file: str = ""

    def binds(self, service: Service) -> bool:
        if self.subject_kind != "Service" or service.namespace != self.namespace:
            return False
        if self.subject_name is not None:
            return service.name == self.subject_name
        return all(service.labels.get(k) == v for k, v in self.subject_selector.items())


@dataclass(frozen=True)
class Topology:
    services: Mapping[str, Service]
    brokers: Mapping[str, Broker]
    triggers: Mapping[str, Trigger]
    broker_configs: Mapping[str, BrokerConfig]
    sink_bindings: Mapping[str, SinkBinding] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def triggers_for(self, broker: str) -> list[Trigger]:
        return [t for t in self.triggers.values() if t.broker == broker]

    def sink_for(self, service: str) -> Destination | None:
        """The ``K_SINK`` destination of a Service, if a SinkBinding selects it."""
        svc = self.services[service]
        for binding in self.sink_bindings.values():
            if binding.binds(svc):
                return binding.sink
        return None


# ---------------------------------------------------------------------------------------------
# Parsing


class _Doc:
    """One YAML document with typed accessors that raise ``ManifestError`` at the right path."""

    def __init__(self, file: str, body: Mapping[str, Any], default_namespace: str) -> None:
        self.file = file
        self.body = body
        self.kind = str(body.get("kind", ""))
        meta = body.get("metadata")
        self.obj = self.kind
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta["name"]:
            raise self.error("metadata.name", "missing or not a string")
        ns = meta.get("namespace", default_namespace)
        if not isinstance(ns, str) or not ns:
            raise self.error("metadata.namespace", "not a string")
        self.name: str = meta["name"]
        self.namespace: str = ns
        self.obj = f"{self.kind} {ns}/{self.name}"

    def error(self, path: str, problem: str) -> ManifestError:
        return ManifestError(self.file, self.obj, path, problem)

    def get(self, path: str, default: Any = None) -> Any:
        node: Any = self.body
        walked: list[str] = []
        for key in path.split("."):
            if node is None:
                return default
            if not isinstance(node, Mapping):
                raise self.error(".".join(walked), "expected a mapping")
            walked.append(key)
            node = node.get(key)
        return default if node is None else node

    def mapping(self, path: str) -> Mapping[str, Any]:
        value = self.get(path, {})
        if not isinstance(value, Mapping):
            raise self.error(path, "expected a mapping")
        return value

    def string_map(self, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.mapping(path).items():
            if not isinstance(value, str):
                raise self.error(f"{path}.{key}", f"value must be a string (quote it), got {value!r}")
            out[str(key)] = value
        return out

    def integer(self, path: str, default: int, lo: int, hi: int) -> int:
        value = self.get(path, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, f"expected an integer, got {value!r}")
        if not lo <= value <= hi:
            raise self.error(path, f"{value} is outside [{lo}, {hi}]")
        return value

    def ref(self, path: str) -> Ref:
        node = self.mapping(path)
        values = {}
        for key in ("apiVersion", "kind", "name"):
            if not isinstance(node.get(key), str) or not node[key]:
                raise self.error(f"{path}.{key}", "missing or not a string")
            values[key] = node[key]
        ns = node.get("namespace", self.namespace)
        if not isinstance(ns, str):
            raise self.error(f"{path}.namespace", "not a string")
        return Ref(values["apiVersion"], values["kind"], values["name"], ns)

    def destination(self, path: str) -> Destination:
        node = self.mapping(path)
        uri = node.get("uri")
        if uri is not None and (not isinstance(uri, str) or not uri):
            raise self.error(f"{path}.uri", "not a string")
        ref = self.ref(f"{path}.ref") if node.get("ref") is not None else None
        if ref is None and uri is None:
            raise self.error(path, "needs a ref or a uri")
        return Destination(ref=ref, uri=uri)

    def delivery(self, path: str) -> DeliverySpec | None:
        node = self.get(path)
        if node is None:
            return None
        if not isinstance(node, Mapping):
            raise self.error(path, "expected a mapping")
        retry = None
        if node.get("retry") is not None:
            retry = self.integer(f"{path}.retry", 0, 0, 2**31 - 1)
        policy = node.get("backoffPolicy")
        if policy is not None and policy not in ("linear", "exponential"):
            raise self.error(f"{path}.backoffPolicy", f"{policy!r} is not linear or exponential")
        delay = self.duration(f"{path}.backoffDelay")
        timeout = self.duration(f"{path}.timeout")
        if timeout is not None and timeout <= 0:
            raise self.error(f"{path}.timeout", "must be greater than zero")
        dls = self.destination(f"{path}.deadLetterSink") if node.get("deadLetterSink") is not None else None
        return DeliverySpec(retry, policy, delay, timeout, dls)

    def duration(self, path: str) -> float | None:
        value = self.get(path)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(path, f"expected an ISO-8601 duration string, got {value!r}")
        try:
            return parse_iso8601_duration(value)
        except ValueError as exc:
            raise self.error(path, str(exc)) from exc


def _parse_service(doc: _Doc) -> Service:
    tpl = "spec.template"
    annotations = doc.string_map(f"{tpl}.metadata.annotations")
    containers = doc.get(f"{tpl}.spec.containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], Mapping):
        raise doc.error(f"{tpl}.spec.containers", "needs at least one container")
    if len(containers) > 1:
        raise doc.error(f"{tpl}.spec.containers", "the local runtime hosts one container per Service")
    cpath = f"{tpl}.spec.containers[0]"
    container = containers[0]
    image = container.get("image")
    if not isinstance(image, str) or not image:
        raise doc.error(f"{cpath}.image", "missing or not a string")
    env: dict[str, str] = {}
    for i, entry in enumerate(container.get("env") or []):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise doc.error(f"{cpath}.env[{i}].name", "missing or not a string")
        value = entry.get("value")
        if "valueFrom" in entry:
            continue  # resolved by the cluster; locally the runtime passes its own settings
        if value is not None and not isinstance(value, str):
            raise doc.error(f"{cpath}.env[{i}].value", f"must be a string (quote it), got {value!r}")
        env[entry["name"]] = value or ""
    readiness = container.get("readinessProbe") or {}
    readiness_path = None
    if isinstance(readiness, Mapping) and isinstance(readiness.get("httpGet"), Mapping):
        readiness_path = str(readiness["httpGet"].get("path") or "/")
    local_port = None
    if LOCAL_PORT_ANNOTATION in annotations:
        raw = annotations[LOCAL_PORT_ANNOTATION]
        if not raw.isdigit() or not 1 <= int(raw) <= 65535:
            raise doc.error(
                f"{tpl}.metadata.annotations.{LOCAL_PORT_ANNOTATION}", f"{raw!r} is not a TCP port"
            )
        local_port = int(raw)
    return Service(
        name=doc.name,
        namespace=doc.namespace,
        image=image,
        env=env,
        annotations=annotations,
        labels=doc.string_map("metadata.labels"),
        container_concurrency=doc.integer(f"{tpl}.spec.containerConcurrency", 0, 0, 1000),
        timeout_seconds=doc.integer(f"{tpl}.spec.timeoutSeconds", 300, 1, 600),
        readiness_path=readiness_path,
        local_port=local_port,
        function_target=env.get("FUNCTION_TARGET"),
        function_source=env.get("FUNCTION_SOURCE"),
        file=doc.file,
    )


def _parse_broker(doc: _Doc, warnings: list[str]) -> Broker:
    annotations = doc.string_map("metadata.annotations")
    cls = annotations.get(BROKER_CLASS_ANNOTATION, "MTChannelBasedBroker")
    if cls != RABBITMQ_BROKER_CLASS:
        warnings.append(
            f"{doc.file}: {doc.obj}: broker class {cls!r}: the local runtime implements {RABBITMQ_BROKER_CLASS} semantics"
        )
    config_ref = doc.ref("spec.config") if doc.get("spec.config") is not None else None
    if config_ref is None and cls == RABBITMQ_BROKER_CLASS:
        raise doc.error("spec.config", "a RabbitMQBroker needs spec.config (a RabbitmqBrokerConfig)")
    return Broker(doc.name, doc.namespace, cls, config_ref, doc.delivery("spec.delivery"), doc.file)


def _parse_broker_config(doc: _Doc) -> BrokerConfig:
    path = "spec.rabbitmqClusterReference"
    node = doc.mapping(path)
    has_name, has_secret = node.get("name") is not None, node.get("connectionSecret") is not None
    if has_name == has_secret:
        raise doc.error(path, "set exactly one of name and connectionSecret")
    cluster_ref = None
    secret = None
    if has_name:
        ns = node.get("namespace", doc.namespace)
        cluster_ref = Ref("rabbitmq.com/v1beta1", "RabbitmqCluster", str(node["name"]), str(ns))
    else:
        secret = str(doc.mapping(f"{path}.connectionSecret").get("name", ""))
    queue_type = doc.get("spec.queueType", "quorum")
    if queue_type not in ("quorum", "classic"):
        raise doc.error("spec.queueType", f"{queue_type!r} is not quorum or classic")
    return BrokerConfig(
        doc.name, doc.namespace, cluster_ref, secret, queue_type, str(doc.get("spec.vhost", "")), doc.file
    )


def _parse_trigger(doc: _Doc, warnings: list[str]) -> Trigger:
    broker = doc.get("spec.broker")
    if not isinstance(broker, str) or not broker:
        raise doc.error("spec.broker", "missing or not a string")
    attributes = doc.string_map("spec.filter.attributes")
    for name in attributes:
        if not _FILTER_ATTRIBUTE_NAME.match(name):
            raise doc.error(f"spec.filter.attributes.{name}", "attribute names must match ^[a-z][a-z0-9]*$")
    has_filters = bool(doc.get("spec.filters"))
    if has_filters:
        warnings.append(
            f"{doc.file}: {doc.obj}: spec.filters is unsupported by the RabbitMQ broker, it would match every event"
            + (" not excluded by spec.filter.attributes" if attributes else "")
        )
    annotations = doc.string_map("metadata.annotations")
    parallelism = 1
    if PARALLELISM_ANNOTATION in annotations:
        raw = annotations[PARALLELISM_ANNOTATION]
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise doc.error(
                f"metadata.annotations.{PARALLELISM_ANNOTATION}", f"{raw!r} is not an integer in [1, 1000]"
            )
        parallelism = int(raw)
    if doc.get("spec.subscriber") is None:
        raise doc.error("spec.subscriber", "missing")
    return Trigger(
        name=doc.name,
        namespace=doc.namespace,
        broker=broker,
        filter_attributes=attributes,
        has_filters=has_filters,
        subscriber=doc.destination("spec.subscriber"),
        delivery=doc.delivery("spec.delivery"),
        parallelism=parallelism,
        annotations=annotations,
        file=doc.file,
    )


def _parse_sink_binding(doc: _Doc) -> SinkBinding:
    subject = doc.mapping("spec.subject")
    kind = subject.get("kind")
    if not isinstance(kind, str):
        raise doc.error("spec.subject.kind", "missing or not a string")
    name = subject.get("name")
    selector = doc.string_map("spec.subject.selector.matchLabels")
    if (name is None) == (not selector):
        raise doc.error("spec.subject", "set exactly one of name and selector.matchLabels")
    return SinkBinding(doc.name, doc.namespace, kind, name, selector, doc.destination("spec.sink"), doc.file)


class _Named(Protocol):
    @property
    def file(self) -> str: ...


_T = TypeVar("_T", bound=_Named)


def _put(table: dict[str, _T], doc: _Doc, value: _T) -> None:
    if doc.name in table:
        raise doc.error("metadata.name", f"duplicate {doc.kind} (also in {table[doc.name].file})")
    table[doc.name] = value


def _documents(root: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for path in sorted(root.rglob("*.y*ml")):
        if path.suffix not in (".yaml", ".yml") or path.name == "kustomization.yaml":
            continue
        rel = str(path.relative_to(root.parent))
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise ManifestError(rel, "", "", f"invalid YAML: {exc}") from exc
        for body in docs:
            if body is None:
                continue
            if not isinstance(body, Mapping):
                raise ManifestError(rel, "", "", "a document is not a mapping")
            yield rel, body


def load_topology(path: str | Path) -> Topology:
    """Load every YAML file under ``path`` (a ``knative/`` directory) and check cross-references."""
    root = Path(path)
    if not root.is_dir():
        raise ManifestError(str(root), "", "", "not a directory")
    default_ns = "default"
    listed: set[str] | None = None
    kustomization = root / "kustomization.yaml"
    if kustomization.exists():
        body = yaml.safe_load(kustomization.read_text(encoding="utf-8")) or {}
        if isinstance(body, Mapping):
            default_ns = str(body.get("namespace", default_ns))
            listed = {str(r) for r in body.get("resources") or []}

    services: dict[str, Service] = {}
    brokers: dict[str, Broker] = {}
    triggers: dict[str, Trigger] = {}
    configs: dict[str, BrokerConfig] = {}
    bindings: dict[str, SinkBinding] = {}
    warnings: list[str] = []
    seen_files: set[str] = set()

    for rel, body in _documents(root):
        seen_files.add(rel)
        kind = body.get("kind")
        if kind in _SKIPPED_KINDS:
            continue
        doc = _Doc(rel, body, default_ns)
        if kind == "Service" and str(body.get("apiVersion", "")).startswith("serving.knative.dev/"):
            _put(services, doc, _parse_service(doc))
        elif kind == "Broker":
            _put(brokers, doc, _parse_broker(doc, warnings))
        elif kind == "Trigger":
            _put(triggers, doc, _parse_trigger(doc, warnings))
        elif kind == "RabbitmqBrokerConfig":
            _put(configs, doc, _parse_broker_config(doc))
        elif kind == "SinkBinding":
            _put(bindings, doc, _parse_sink_binding(doc))
        else:
            warnings.append(f"{rel}: {doc.obj}: kind {kind!r} is not used by the local runtime")

    if listed is not None:
        root_name = root.name
        for rel in sorted(seen_files):
            inner = rel[len(root_name) + 1 :]
            if inner != "kustomization.yaml" and inner not in listed:
                warnings.append(f"{rel}: not listed in kustomization.yaml, so a cluster would not apply it")

    topology = Topology(services, brokers, triggers, configs, bindings, tuple(warnings))
    _check_references(topology)
    return topology


def _check_references(topo: Topology) -> None:
    def check_destination(file: str, obj: str, path: str, dest: Destination | None) -> None:
        if dest is None or dest.ref is None:
            return
        ref = dest.ref
        if (
            ref.kind == "Service"
            and ref.api_version.startswith("serving.knative.dev/")
            and ref.name not in topo.services
        ):
            raise ManifestError(file, obj, f"{path}.ref.name", f"no Service {ref.name!r} in the manifests")
        if ref.kind == "Broker" and ref.name not in topo.brokers:
            raise ManifestError(file, obj, f"{path}.ref.name", f"no Broker {ref.name!r} in the manifests")

    for b in topo.brokers.values():
        obj = f"Broker {b.namespace}/{b.name}"
        if (
            b.config_ref is not None
            and b.config_ref.kind == "RabbitmqBrokerConfig"
            and b.config_ref.name not in topo.broker_configs
        ):
            raise ManifestError(
                b.file,
                obj,
                "spec.config.name",
                f"no RabbitmqBrokerConfig {b.config_ref.name!r} in the manifests",
            )
        check_destination(
            b.file, obj, "spec.delivery.deadLetterSink", b.delivery.dead_letter_sink if b.delivery else None
        )
    for t in topo.triggers.values():
        obj = f"Trigger {t.namespace}/{t.name}"
        if t.broker not in topo.brokers:
            raise ManifestError(t.file, obj, "spec.broker", f"no Broker {t.broker!r} in the manifests")
        check_destination(t.file, obj, "spec.subscriber", t.subscriber)
        check_destination(
            t.file, obj, "spec.delivery.deadLetterSink", t.delivery.dead_letter_sink if t.delivery else None
        )
    for s in topo.sink_bindings.values():
        check_destination(s.file, f"SinkBinding {s.namespace}/{s.name}", "spec.sink", s.sink)
