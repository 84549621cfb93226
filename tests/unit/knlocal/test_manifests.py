"""knlocal.manifests: the repository's knative/ tree and the errors/warnings of broken manifests."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from knlocal.eventing.delivery import RetryPolicy
from knlocal.manifests import ManifestError, load_topology, parse_iso8601_duration

REPO = Path(__file__).resolve().parents[3]
EVENT_TYPES = ["submitted", "started", "completed", "failed", "deadlettered"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT0.2S", 0.2),
        ("PT1S", 1.0),
        ("PT1M30S", 90.0),
        ("PT2H", 7200.0),
        ("P1D", 86400.0),
        ("P1W", 604800.0),
        ("P1DT1S", 86401.0),
        ("PT0,5S", 0.5),
        ("pt10s", 10.0),
        ("PT0S", 0.0),
    ],
)
def test_iso8601_durations(text: str, seconds: float) -> None:
    assert parse_iso8601_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "0.2S", "PT-1S", "1s", "PT1S2M", "P1Y", "P2M", "PT1.S", "P1DT"]
)
def test_iso8601_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso8601_duration(text)


def test_repository_topology() -> None:
    topo = load_topology(REPO / "knative")
    assert topo.warnings == ()
    assert set(topo.services) == {"gateway", "processor", "aggregator", "readmodel", "deadletter"}
    for name, svc in topo.services.items():
        assert svc.namespace == "observatory"
        assert svc.function_target == name
        assert svc.function_source == f"functions/{name}/main.py"
        assert svc.readiness_path == "/readyz"
        assert svc.image == "observatory/functions:0.1.0"
        assert svc.annotations["autoscaling.knative.dev/class"] == "kpa.autoscaling.knative.dev"
        assert svc.annotations["autoscaling.knative.dev/metric"] == "concurrency"
        want_min = "1" if name in ("gateway", "readmodel", "deadletter") else "0"
        assert svc.annotations["autoscaling.knative.dev/min-scale"] == want_min
    assert topo.services["gateway"].local_port == 3000
    assert topo.services["readmodel"].local_port == 8080
    assert topo.services["processor"].local_port is None
    assert topo.services["processor"].container_concurrency == 10
    assert topo.services["aggregator"].container_concurrency == 50

    broker = topo.brokers["default"]
    assert broker.cls == "RabbitMQBroker"
    assert broker.config_ref is not None and broker.config_ref.name == "default-config"
    assert topo.broker_configs["default-config"].queue_type == "quorum"
    assert broker.delivery is not None and broker.delivery.retry == 3
    assert broker.delivery.dead_letter_sink is not None
    assert broker.delivery.dead_letter_sink.service_name == "deadletter"

    proc = topo.triggers["processor"]
    assert proc.filter_attributes == {"type": "dev.observatory.job.submitted"}
    assert proc.parallelism == 8
    assert proc.subscriber.service_name == "processor"
    assert proc.delivery is not None
    assert (proc.delivery.retry, proc.delivery.backoff_policy) == (5, "exponential")
    assert proc.delivery.backoff_delay_s == pytest.approx(0.2)
    # The retries must outlast the processor's 6 s claim lease (functions/processor/settings.py LEASE_S).
    assert RetryPolicy.from_spec(proc.delivery, None).schedule() == pytest.approx([0.4, 0.8, 1.6, 3.2, 6.4])
    assert sum(RetryPolicy.from_spec(proc.delivery, None).schedule()) > 2 * 6.0
    assert proc.delivery.timeout_s == pytest.approx(45.0)
    aggregator_types = sorted(
        t.filter_attributes["type"]
        for t in topo.triggers.values()
        if t.subscriber.service_name == "aggregator"
    )
    assert aggregator_types == sorted(f"dev.observatory.job.{p}" for p in EVENT_TYPES)
    assert all(t.parallelism == 4 for t in topo.triggers.values() if t.name.startswith("aggregator-"))
    assert len(topo.triggers_for("default")) == 6

    sink = topo.sink_for("gateway")
    assert sink is not None and sink.ref is not None and sink.ref.kind == "Broker"
    assert topo.sink_for("aggregator") is None


def test_secrets_stay_out_of_the_repository() -> None:
    text = "\n".join(p.read_text() for p in (REPO / "knative").rglob("*.yaml"))
    assert "kind: Secret\n" not in text
    assert re.search(r"://[^/@\s]+:[^/@\s]+@", text) is None  # no user:password@ in any URL


BROKER = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: ns, annotations: {eventing.knative.dev/broker.class: RabbitMQBroker}}
spec:
  config: {apiVersion: eventing.knative.dev/v1alpha1, kind: RabbitmqBrokerConfig, name: cfg}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: RabbitmqBrokerConfig
metadata: {name: cfg, namespace: ns}
spec: {rabbitmqClusterReference: {name: rabbitmq}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: sub, namespace: ns}
spec:
  template:
    spec:
      containers:
        - image: img
          env:
            - {name: A, value: "1"}
            - {name: B, valueFrom: {secretKeyRef: {name: s, key: k}}}
"""

TRIGGER = """
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t1, namespace: ns}
spec:
  broker: default
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: sub}}
"""


def _write(tmp_path: Path, **files: str) -> Path:
    root = tmp_path / "knative"
    root.mkdir()
    for name, text in files.items():
        (root / f"{name}.yaml").write_text(textwrap.dedent(text))
    return root


def test_minimal_topology_defaults(tmp_path: Path) -> None:
    topo = load_topology(_write(tmp_path, base=BROKER, trig=TRIGGER))
    t = topo.triggers["t1"]
    assert (t.parallelism, t.delivery, t.filter_attributes, t.has_filters) == (1, None, {}, False)
    svc = topo.services["sub"]
    assert svc.env == {"A": "1"}  # valueFrom is left to the cluster
    assert (svc.container_concurrency, svc.timeout_seconds, svc.readiness_path) == (0, 300, None)


def test_filters_warn(tmp_path: Path) -> None:
    trig = TRIGGER + "  filters: [{prefix: {type: dev.}}]\n"
    topo = load_topology(_write(tmp_path, base=BROKER, trig=trig))
    assert topo.triggers["t1"].has_filters
    assert len(topo.warnings) == 1
    assert "unsupported by the RabbitMQ broker, it would match every event" in topo.warnings[0]


def test_unlisted_file_warns(tmp_path: Path) -> None:
    root = _write(tmp_path, base=BROKER, trig=TRIGGER)
    (root / "kustomization.yaml").write_text("resources: [base.yaml]\n")
    topo = load_topology(root)
    assert topo.warnings == (
        "knative/trig.yaml: not listed in kustomization.yaml, so a cluster would not apply it",
    )


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (
            "  delivery: {backoffDelay: 0.2s}\n",
            "Trigger ns/t1: spec.delivery.backoffDelay: '0.2s' is not an ISO-8601",
        ),
        (
            "  delivery: {backoffPolicy: fibonacci}\n",
            "spec.delivery.backoffPolicy: 'fibonacci' is not linear",
        ),
        ("  delivery: {retry: -1}\n", "spec.delivery.retry: -1 is outside"),
        ("  delivery: {timeout: PT0S}\n", "spec.delivery.timeout: must be greater than zero"),
        ("  filter: {attributes: {Type: x}}\n", "spec.filter.attributes.Type: attribute names must match"),
        ("  filter: {attributes: {retries: 3}}\n", "spec.filter.attributes.retries: value must be a string"),
        (
            "  delivery: {deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: nope}}}\n",
            "spec.delivery.deadLetterSink.ref.name: no Service 'nope'",
        ),
    ],
)
def test_trigger_errors(tmp_path: Path, extra: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        load_topology(_write(tmp_path, base=BROKER, trig=TRIGGER + extra))
    assert fragment in str(info.value)
    assert str(info.value).startswith("knative/trig.yaml: Trigger ns/t1: ")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("broker: default", "broker: other", "spec.broker: no Broker 'other'"),
        ("name: sub}}", "name: ghost}}", "spec.subscriber.ref.name: no Service 'ghost'"),
        ("metadata: {name: t1, namespace: ns}", "metadata: {namespace: ns}", "metadata.name: missing"),
    ],
)
def test_reference_errors(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment):
        load_topology(_write(tmp_path, base=BROKER, trig=TRIGGER.replace(old, new)))


def test_parallelism_range(tmp_path: Path) -> None:
    trig = TRIGGER.replace(
        "metadata: {name: t1, namespace: ns}",
        'metadata: {name: t1, namespace: ns, annotations: {rabbitmq.eventing.knative.dev/parallelism: "0"}}',
    )
    with pytest.raises(ManifestError, match=r"parallelism: '0' is not an integer in \[1, 1000\]"):
        load_topology(_write(tmp_path, base=BROKER, trig=trig))


def test_service_errors(tmp_path: Path) -> None:
    bad_cc = BROKER.replace(
        "    spec:\n      containers:", "    spec:\n      containerConcurrency: 2000\n      containers:"
    )
    with pytest.raises(
        ManifestError, match=r"Service ns/sub: spec.template.spec.containerConcurrency: 2000 is outside"
    ):
        load_topology(_write(tmp_path, base=bad_cc))
    bad_env = BROKER.replace('{name: A, value: "1"}', "{name: A, value: 1}")
    (tmp_path / "b").mkdir()
    with pytest.raises(ManifestError, match=r"containers\[0\].env\[0\].value: must be a string"):
        load_topology(_write(tmp_path / "b", base=bad_env))


def test_broker_without_config_and_duplicates(tmp_path: Path) -> None:
    no_cfg = BROKER.replace(
        "spec:\n  config: {apiVersion: eventing.knative.dev/v1alpha1, kind: RabbitmqBrokerConfig, name: cfg}\n",
        "",
    )
    with pytest.raises(
        ManifestError, match=r"Broker ns/default: spec\.config: a RabbitMQBroker needs spec\.config"
    ):
        load_topology(_write(tmp_path, base=no_cfg))
    dup_root = tmp_path / "dup"
    dup_root.mkdir()
    with pytest.raises(ManifestError, match="duplicate Trigger"):
        load_topology(_write(dup_root, base=BROKER, a=TRIGGER, b=TRIGGER))


def test_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"knative/bad\.yaml: invalid YAML"):
        load_topology(_write(tmp_path, bad="a: [\n"))
