"""The validator against the real knative/ + platform/ trees: they pass, and each seeded mistake is caught alone.

Each case copies both trees into a temporary directory, makes ONE mistake, and expects exactly the
errors that mistake causes (file, Kind/name, path) and no others.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tui.validate.catalog import Catalog
from tui.validate.cli import default_crds_dir
from tui.validate.runner import validate

ROOT = Path(__file__).resolve().parents[3]
TREES = ("knative", "platform")

Docs = list[Any]
Expected = set[tuple[str, str, str]]  # (file, "Kind/name", path)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    crds = default_crds_dir(ROOT)
    if not crds.is_dir():
        pytest.fail(f"CRD directory {crds} is missing: set OBSERVATORY_CRDS_DIR or run scripts/fetch-crds.sh")
    return Catalog.from_dir(crds)


def copy_trees(tmp_path: Path) -> Path:
    for tree in TREES:
        shutil.copytree(
            ROOT / tree, tmp_path / tree, ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.pyc")
        )
    return tmp_path


def run(catalog: Catalog, base: Path) -> Expected:
    report = validate([base / tree for tree in TREES], catalog, base)
    return {(f.file, f"{f.kind}/{f.name}", f.path) for f in report.errors}


def test_real_tree_passes(catalog: Catalog) -> None:
    if not (ROOT / "knative" / "kustomization.yaml").is_file():
        pytest.fail("knative/ is not written yet")
    report = validate([ROOT / tree for tree in TREES], catalog, ROOT)
    assert [f.format() for f in report.errors] == []
    assert report.objects > 20


def test_copied_tree_passes(catalog: Catalog, tmp_path: Path) -> None:
    """The baseline every seeded case starts from: a copy validates clean (paths relative to the copy)."""
    assert run(catalog, copy_trees(tmp_path)) == set()


# ---- seeding helpers -------------------------------------------------------------------------------


def edit_doc(
    file: str, kind: str, name: str, change: Callable[[dict[str, Any]], None]
) -> Callable[[Path], None]:
    """Change one object of one file (parsed and re-dumped)."""

    def apply(base: Path) -> None:
        path = base / file
        docs: Docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        matches = [d for d in docs if d and d.get("kind") == kind and d["metadata"]["name"] == name]
        assert len(matches) == 1, f"{kind}/{name} not in {file}"
        change(matches[0])
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")

    return apply


def at(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def walk(doc: dict[str, Any]) -> dict[str, Any]:
        for key in keys:
            doc = doc[key][0] if key == "containers" else doc[key]
        return doc

    return walk


def put(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        at(*keys[:-1])(doc)[keys[-1]] = value

    return change


def remove(*keys: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        del at(*keys[:-1])(doc)[keys[-1]]

    return change


TEMPLATE = ("spec", "template")
POD = (*TEMPLATE, "spec")
TANN = (*TEMPLATE, "metadata", "annotations")
AS = "autoscaling.knative.dev/"
PROC_SVC = "knative/services/processor.yaml"
PROC_TRIG = "knative/triggers/processor.yaml"
BROKER = "knative/broker.yaml"
CONFIG = "knative/rabbitmq-broker-config.yaml"


def svc(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return edit_doc(PROC_SVC, "Service", "processor", change)


def trig(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return edit_doc(PROC_TRIG, "Trigger", "processor", change)


def move_annotation_to_service_metadata(doc: dict[str, Any]) -> None:
    value = at(*TANN)(doc).pop(AS + "max-scale")
    doc["metadata"].setdefault("annotations", {})[AS + "max-scale"] = value


def overwrite(file: str, text: str) -> Callable[[Path], None]:
    def apply(base: Path) -> None:
        (base / file).write_text(text, encoding="utf-8")

    return apply


def copy_file(source: str, target: str) -> Callable[[Path], None]:
    def apply(base: Path) -> None:
        shutil.copyfile(base / source, base / target)

    return apply


def list_in_kustomization(file: str, entry: str) -> Callable[[Path], None]:
    def apply(base: Path) -> None:
        path = base / file
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["resources"].append(entry)
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    return apply


def rename_rabbitmq_cluster(doc: dict[str, Any]) -> None:
    doc["metadata"]["name"] = "rabbit"


S = "Service/processor"
T = "Trigger/processor"
SPEC_POD = "spec.template.spec"
ANN = "spec.template.metadata.annotations"

CASES: list[tuple[str, Callable[[Path], None], Expected]] = [
    # structural: CRD kinds (unknown fields are errors) and core kinds (kubernetes-validate, strict)
    ("crd unknown field", svc(put(*POD, "containerConcurency", value=10)), {(PROC_SVC, S, SPEC_POD)}),
    (
        "crd wrong type",
        svc(put(*POD, "timeoutSeconds", value="60s")),
        {(PROC_SVC, S, f"{SPEC_POD}.timeoutSeconds")},
    ),
    (
        "core wrong type",
        edit_doc("platform/k8s/redis.yaml", "StatefulSet", "redis", put("spec", "replicas", value="one")),
        {("platform/k8s/redis.yaml", "StatefulSet/redis", "spec.replicas")},
    ),
    (
        "core unknown field",
        edit_doc("platform/k8s/postgres.yaml", "Service", "postgres", put("spec", "prots", value=[])),
        {("platform/k8s/postgres.yaml", "Service/postgres", "spec")},
    ),
    (
        "rabbitmq cluster unknown field",
        edit_doc(
            "platform/k8s/rabbitmq-cluster.yaml",
            "RabbitmqCluster",
            "rabbitmq",
            put("spec", "replica", value=1),
        ),
        {("platform/k8s/rabbitmq-cluster.yaml", "RabbitmqCluster/rabbitmq", "spec")},
    ),
    # Knative Serving admission
    (
        "min-scale negative",
        svc(put(*TANN, AS + "min-scale", value="-1")),
        {(PROC_SVC, S, f"{ANN}[{AS}min-scale]")},
    ),
    (
        "max below min",
        svc(put(*TANN, AS + "min-scale", value="20")),
        {(PROC_SVC, S, f"{ANN}[{AS}max-scale]")},
    ),
    ("window too short", svc(put(*TANN, AS + "window", value="2s")), {(PROC_SVC, S, f"{ANN}[{AS}window]")}),
    (
        "annotation not a string",
        svc(put(*TANN, AS + "max-scale", value=10)),
        {(PROC_SVC, S, f"{ANN}[{AS}max-scale]")},
    ),
    ("annotation typo", svc(put(*TANN, AS + "maxscale", value="3")), {(PROC_SVC, S, f"{ANN}[{AS}maxscale]")}),
    (
        "autoscaling on Service metadata",
        svc(move_annotation_to_service_metadata),
        {(PROC_SVC, S, f"metadata.annotations[{AS}max-scale]")},
    ),
    (
        "containerConcurrency too high",
        svc(put(*POD, "containerConcurrency", value=2000)),
        {(PROC_SVC, S, f"{SPEC_POD}.containerConcurrency")},
    ),
    (
        "timeout too long",
        svc(put(*POD, "timeoutSeconds", value=900)),
        {(PROC_SVC, S, f"{SPEC_POD}.timeoutSeconds")},
    ),
    # Eventing / eventing-rabbitmq admission
    (
        "filter attribute name",
        trig(put("spec", "filter", "attributes", value={"job-type": "echo"})),
        {(PROC_TRIG, T, "spec.filter.attributes.job-type")},
    ),
    (
        "filters unsupported",
        trig(put("spec", "filters", value=[{"prefix": {"type": "dev.observatory.job."}}])),
        {(PROC_TRIG, T, "spec.filters")},
    ),
    (
        "backoffPolicy enum",
        trig(put("spec", "delivery", "backoffPolicy", value="quadratic")),
        {(PROC_TRIG, T, "spec.delivery.backoffPolicy")},
    ),
    (
        "backoffDelay not ISO-8601",
        trig(put("spec", "delivery", "backoffDelay", value="200ms")),
        {(PROC_TRIG, T, "spec.delivery.backoffDelay")},
    ),
    (
        "timeout zero",
        trig(put("spec", "delivery", "timeout", value="PT0S")),
        {(PROC_TRIG, T, "spec.delivery.timeout")},
    ),
    (
        "parallelism out of range",
        trig(put("metadata", "annotations", "rabbitmq.eventing.knative.dev/parallelism", value="0")),
        {(PROC_TRIG, T, "metadata.annotations[rabbitmq.eventing.knative.dev/parallelism]")},
    ),
    (
        "broker without config",
        edit_doc(BROKER, "Broker", "default", remove("spec", "config")),
        {(BROKER, "Broker/default", "spec.config")},
    ),
    (
        "broker config both name and secret",
        edit_doc(
            CONFIG,
            "RabbitmqBrokerConfig",
            "default-config",
            put("spec", "rabbitmqClusterReference", "connectionSecret", value={"name": "rmq"}),
        ),
        {(CONFIG, "RabbitmqBrokerConfig/default-config", "spec.rabbitmqClusterReference")},
    ),
    # cross-object
    ("trigger broker missing", trig(put("spec", "broker", value="defualt")), {(PROC_TRIG, T, "spec.broker")}),
    (
        "subscriber missing",
        trig(put("spec", "subscriber", "ref", "name", value="procesor")),
        {(PROC_TRIG, T, "spec.subscriber.ref")},
    ),
    (
        "dead-letter sink missing",
        trig(put("spec", "delivery", "deadLetterSink", "ref", "name", value="deadleter")),
        {(PROC_TRIG, T, "spec.delivery.deadLetterSink.ref")},
    ),
    (
        "broker config missing",
        edit_doc(BROKER, "Broker", "default", put("spec", "config", "name", value="no-such-config")),
        {(BROKER, "Broker/default", "spec.config")},
    ),
    (
        "rabbitmq cluster missing",
        edit_doc(
            "platform/k8s/rabbitmq-cluster.yaml", "RabbitmqCluster", "rabbitmq", rename_rabbitmq_cluster
        ),
        {(CONFIG, "RabbitmqBrokerConfig/default-config", "spec.rabbitmqClusterReference")},
    ),
    (
        "duplicate object",
        copy_file(PROC_TRIG, "knative/triggers/processor-copy.yaml"),
        # Files are read in sorted order: the original comes after processor-copy.yaml.
        {(PROC_TRIG, T, "metadata.name")},
    ),
    # files
    (
        "kustomization names a missing file",
        list_in_kustomization("knative/kustomization.yaml", "triggers/missing.yaml"),
        {("knative/kustomization.yaml", "Kustomization/knative", "resources")},
    ),
    (
        "broken YAML",
        overwrite(PROC_TRIG, "apiVersion: eventing.knative.dev/v1\nkind: [Trigger\nmetadata: {}\n"),
        {(PROC_TRIG, "YAML/processor.yaml", "line 3")},
    ),
]


@pytest.mark.parametrize(("seed", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_seeded_mistake_is_caught_alone(
    catalog: Catalog, tmp_path: Path, seed: Callable[[Path], None], expected: Expected
) -> None:
    base = copy_trees(tmp_path)
    seed(base)
    assert run(catalog, base) == expected
