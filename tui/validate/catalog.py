"""Where schemas come from (I/O): CRD files in a directory, and kubernetes-validate's strict core schemas."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from referencing import Registry, Resource

from tui.validate.crdschema import KindKey, schemas_of_crd
from tui.validate.loader import load_all

# The Kubernetes minor the cluster script installs (kindest/node); core kinds are checked against it.
KUBERNETES_VERSION = "1.32.0"


class CatalogError(Exception):
    """The CRD directory is missing or holds a file that is not a CRD."""


class Catalog:
    """Schemas by apiVersion + kind: CRDs from a directory first, then Kubernetes' core kinds."""

    def __init__(self, crd_schemas: dict[KindKey, dict[str, Any]], k8s_version: str = KUBERNETES_VERSION):
        self._crds = crd_schemas
        self._k8s_dir = f"v{k8s_version}-local-strict"
        self.registry: Registry[Any] = _core_registry(self._k8s_dir)

    @classmethod
    def from_dir(cls, crd_dir: Path, k8s_version: str = KUBERNETES_VERSION) -> Catalog:
        if not crd_dir.is_dir():
            raise CatalogError(f"CRD directory {crd_dir} does not exist (run scripts/fetch-crds.sh)")
        schemas: dict[KindKey, dict[str, Any]] = {}
        for path in sorted(crd_dir.glob("*.yaml")) + sorted(crd_dir.glob("*.yml")):
            try:
                docs = load_all(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise CatalogError(f"{path}: not YAML: {exc}") from exc
            for doc in docs:
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    schemas.update(schemas_of_crd(doc))
        return cls(schemas, k8s_version)

    def crd_kinds(self) -> set[KindKey]:
        return set(self._crds)

    def schema_for(self, api_version: str, kind: str) -> dict[str, Any] | None:
        """The JSON Schema for one kind, or None when neither the CRDs nor core Kubernetes know it."""
        crd = self._crds.get(KindKey(api_version, kind))
        if crd is not None:
            return crd
        return _core_schema(self._k8s_dir, api_version, kind)


def _package_file(*parts: str) -> Any:
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", *parts)


@cache
def _core_registry(schema_dir: str) -> Registry[Any]:
    definitions = json.loads(_package_file(schema_dir, "_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(definitions) @ Registry()


@cache
def _core_schema(schema_dir: str, api_version: str, kind: str) -> dict[str, Any] | None:
    # kubernetes-validate names files `<kind>-<group prefix>-<version>.json` (apps/v1 → apps-v1, v1 → v1).
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    ref = _package_file(schema_dir, f"{kind.lower()}-{group_version}.json")
    if not ref.is_file():
        return None
    schema: dict[str, Any] = json.loads(ref.read_text(encoding="utf-8"))
    return schema
