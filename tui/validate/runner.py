"""Runs every check over a set of paths and returns the findings (the one place rules are composed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.validate.catalog import Catalog
from tui.validate.crossref import check_references
from tui.validate.loader import check_kustomization, load
from tui.validate.model import Finding, Manifest
from tui.validate.rules_eventing import check_broker, check_broker_config, check_trigger
from tui.validate.rules_serving import check_service
from tui.validate.structural import check_schema

ADMISSION: dict[tuple[str, str], Callable[[Manifest], list[Finding]]] = {
    ("serving.knative.dev", "Service"): check_service,
    ("eventing.knative.dev", "Broker"): check_broker,
    ("eventing.knative.dev", "Trigger"): check_trigger,
    ("eventing.knative.dev", "RabbitmqBrokerConfig"): check_broker_config,
}


@dataclass(frozen=True)
class Report:
    findings: list[Finding]
    files: int
    objects: int

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def validate(paths: Sequence[Path], catalog: Catalog, base: Path) -> Report:
    loaded = load(paths, base)
    findings = list(loaded.findings)
    for path, doc in loaded.kustomizations:
        findings.extend(check_kustomization(path, doc, base))
    for manifest in loaded.manifests:
        findings.extend(
            check_schema(manifest, catalog.schema_for(manifest.api_version, manifest.kind), catalog.registry)
        )
        rule = ADMISSION.get((manifest.group, manifest.kind))
        if rule is not None:
            findings.extend(rule(manifest))
    findings.extend(check_references(loaded.manifests))
    return Report(
        sorted(set(findings), key=lambda f: (f.file, f.kind, f.name, f.path, f.message)),
        loaded.files,
        len(loaded.manifests),
    )
