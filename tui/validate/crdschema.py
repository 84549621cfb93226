"""Pure conversion of a CRD's `openAPIV3Schema` into a strict JSON Schema.

Stricter than the API server on purpose: where the CRD does not say
`x-kubernetes-preserve-unknown-fields`, unknown fields are errors (the server would prune them
silently, which is how a typo such as `containerConcurency` goes unnoticed). `nullable` becomes
"also null", `x-kubernetes-int-or-string` becomes integer-or-string, other `x-kubernetes-*`
keywords are annotations. The root `metadata` is checked against Kubernetes' own ObjectMeta.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OBJECT_META_REF = "/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Keywords whose value is a schema, a list of schemas, or a map of schemas.
_SCHEMA_VALUED = ("items", "not", "additionalProperties")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties")


@dataclass(frozen=True)
class KindKey:
    """apiVersion + kind, the key a manifest is matched on."""

    api_version: str
    kind: str


def convert(node: Mapping[str, Any]) -> dict[str, Any]:
    """One OpenAPI v3 node (and its children) → JSON Schema, with unknown fields forbidden."""
    out: dict[str, Any] = {}
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "default", "example", "externalDocs"):
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: convert(child) for name, child in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [convert(child) for child in value]
        elif key in _SCHEMA_VALUED and isinstance(value, Mapping):
            out[key] = convert(value)
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("x-kubernetes-embedded-resource") and not preserve:
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    is_object = node.get("type") == "object"
    if is_object and not preserve and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*kinds, "null"]
    return out


def root_schema(open_api: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """The schema of a whole object: converted, with ObjectMeta for `metadata` and `status` ignored."""
    schema = convert(open_api)
    # A base under kubernetes.io so the ObjectMeta reference resolves in kubernetes-validate's registry.
    schema["$id"] = f"https://kubernetes.io/crd/{api_version}/{kind}"
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {"$ref": OBJECT_META_REF}
    # Manifests never carry status; the server ignores it on create, so do not hold it to the schema.
    props["status"] = {}
    return schema


def schemas_of_crd(crd: Mapping[str, Any]) -> dict[KindKey, dict[str, Any]]:
    """Every served version of one CustomResourceDefinition document."""
    spec = crd.get("spec") or {}
    group = spec.get("group", "")
    kind = (spec.get("names") or {}).get("kind", "")
    out: dict[KindKey, dict[str, Any]] = {}
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        open_api = ((version.get("schema") or {}).get("openAPIV3Schema")) or {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        api_version = f"{group}/{version['name']}"
        out[KindKey(api_version, kind)] = root_schema(open_api, api_version, kind)
    return out
