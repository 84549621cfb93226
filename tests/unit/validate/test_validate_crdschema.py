"""The openAPIV3Schema → JSON Schema conversion: strict objects, preserve-unknown, nullable, int-or-string."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tui.validate.crdschema import KindKey, convert, schemas_of_crd

OBJ = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer"},
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"a": {"type": "string"}}},
                },
            },
        }
    },
}


@pytest.mark.parametrize(
    ("spec", "valid"),
    [
        ({"size": 1}, True),
        ({"sise": 1}, False),  # unknown field: pruned by the API server, an error here
        ({"size": "1"}, False),
        ({"port": 80}, True),
        ({"port": "http"}, True),
        ({"port": 1.5}, False),
        ({"note": None}, True),
        ({"size": None}, False),
        ({"labels": {"x": "y"}}, True),
        ({"labels": {"x": 1}}, False),
        ({"free": {"anything": {"goes": [1]}}}, True),
        ({"items": [{"a": "x"}]}, True),
        ({"items": [{"b": "x"}]}, False),
    ],
)
def test_convert(spec: dict[str, Any], valid: bool) -> None:
    validator = jsonschema.Draft202012Validator(convert(OBJ))
    assert validator.is_valid({"spec": spec}) is valid


def test_schemas_of_crd_keys_each_served_version() -> None:
    crd = {
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "example.dev",
            "names": {"kind": "Widget"},
            "versions": [
                {"name": "v1", "served": True, "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v1beta1", "served": False, "schema": {"openAPIV3Schema": {"type": "object"}}},
            ],
        },
    }
    schemas = schemas_of_crd(crd)
    assert set(schemas) == {KindKey("example.dev/v1", "Widget")}
    root = schemas[KindKey("example.dev/v1", "Widget")]
    assert set(root["properties"]) == {"apiVersion", "kind", "metadata", "status"}
    assert root["additionalProperties"] is False
