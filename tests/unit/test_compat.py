"""Vectors for the schema compatibility rules: old schema, new schema, the findings expected."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.compat import Bump, Change, Rule, check_bump, compare


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required is not None:
        schema["required"] = required
    return schema


STATUS = {"type": "string", "enum": ["PENDING", "RUNNING", "COMPLETED", "FAILED"]}

# (case id, old, new, [(pointer, rule, breaking)])
VECTORS: list[tuple[str, Any, Any, list[tuple[str, str, bool]]]] = [
    # The four cases the seed shipped as fixtures.
    (
        "seed-add-optional-field",
        obj({"id": {"type": "string"}}, ["id"]),
        obj({"id": {"type": "string"}, "note": {"type": "string"}}, ["id"]),
        [("/properties/note", "property-added-optional", False)],
    ),
    (
        "seed-remove-required-field",
        obj({"id": {"type": "string"}, "type": {"type": "string"}}, ["id", "type"]),
        obj({"id": {"type": "string"}}, ["id"]),
        [("/properties/type", "property-removed", True)],
    ),
    (
        "seed-narrow-enum",
        obj({"status": STATUS}),
        obj({"status": {"type": "string", "enum": ["PENDING", "COMPLETED", "FAILED"]}}),
        [("/properties/status/enum", "enum-narrowed", True)],
    ),
    (
        "seed-widen-enum",
        obj({"status": {"type": "string", "enum": ["PENDING", "COMPLETED"]}}),
        obj({"status": STATUS}),
        [("/properties/status/enum", "enum-widened", False)],
    ),
    ("identical", obj({"a": {"type": "string"}}, ["a"]), obj({"a": {"type": "string"}}, ["a"]), []),
    (
        "required-added-existing",
        obj({"a": {"type": "string"}}),
        obj({"a": {"type": "string"}}, ["a"]),
        [("/properties/a", "required-added", True)],
    ),
    (
        "required-added-new-property",
        obj({}),
        obj({"a": {"type": "string"}}, ["a"]),
        [("/properties/a", "required-added", True)],
    ),
    (
        "required-removed",
        obj({"a": {"type": "string"}}, ["a"]),
        obj({"a": {"type": "string"}}, []),
        [("/properties/a", "required-removed", False)],
    ),
    (
        "enum-swapped-value",
        {"enum": ["a", "b"]},
        {"enum": ["a", "c"]},
        [("/enum", "enum-narrowed", True), ("/enum", "enum-widened", False)],
    ),
    ("enum-added", {"type": "string"}, {"type": "string", "enum": ["x"]}, [("/enum", "enum-narrowed", True)]),
    (
        "enum-dropped",
        {"type": "string", "enum": ["x"]},
        {"type": "string"},
        [("/enum", "enum-widened", False)],
    ),
    ("enum-reordered", {"enum": ["a", "b"]}, {"enum": ["b", "a"]}, []),
    (
        "const-changed",
        {"const": "a"},
        {"const": "b"},
        [("/const", "enum-narrowed", True), ("/const", "enum-widened", False)],
    ),
    ("const-to-enum", {"const": "a"}, {"enum": ["a", "b"]}, [("/enum", "enum-widened", False)]),
    ("type-narrowed", {"type": ["string", "null"]}, {"type": "string"}, [("/type", "type-changed", True)]),
    ("type-widened", {"type": "string"}, {"type": ["string", "null"]}, [("/type", "type-changed", False)]),
    ("type-replaced", {"type": "string"}, {"type": "integer"}, [("/type", "type-changed", True)]),
    ("number-to-integer", {"type": "number"}, {"type": "integer"}, [("/type", "type-changed", True)]),
    ("integer-to-number", {"type": "integer"}, {"type": "number"}, [("/type", "type-changed", False)]),
    ("type-added", {}, {"type": "string"}, [("/type", "type-changed", True)]),
    ("type-removed", {"type": "string"}, {}, [("/type", "type-changed", False)]),
    ("maximum-lowered", {"maximum": 10}, {"maximum": 5}, [("/maximum", "constraint-tightened", True)]),
    ("maximum-raised", {"maximum": 10}, {"maximum": 50}, [("/maximum", "constraint-relaxed", False)]),
    ("minimum-raised", {"minimum": 0}, {"minimum": 1}, [("/minimum", "constraint-tightened", True)]),
    ("minimum-added", {}, {"minimum": 0}, [("/minimum", "constraint-tightened", True)]),
    ("minimum-removed", {"minimum": 0}, {}, [("/minimum", "constraint-relaxed", False)]),
    (
        "exclusive-maximum-lowered",
        {"exclusiveMaximum": 1},
        {"exclusiveMaximum": 0.5},
        [("/exclusiveMaximum", "constraint-tightened", True)],
    ),
    (
        "max-length-lowered",
        {"maxLength": 100},
        {"maxLength": 10},
        [("/maxLength", "constraint-tightened", True)],
    ),
    ("min-length-lowered", {"minLength": 2}, {"minLength": 1}, [("/minLength", "constraint-relaxed", False)]),
    ("min-items-raised", {"minItems": 0}, {"minItems": 1}, [("/minItems", "constraint-tightened", True)]),
    ("max-items-raised", {"maxItems": 3}, {"maxItems": 4}, [("/maxItems", "constraint-relaxed", False)]),
    ("pattern-added", {}, {"pattern": "^a"}, [("/pattern", "constraint-tightened", True)]),
    ("pattern-changed", {"pattern": "^a"}, {"pattern": "^a|b"}, [("/pattern", "constraint-tightened", True)]),
    ("pattern-removed", {"pattern": "^a"}, {}, [("/pattern", "constraint-relaxed", False)]),
    (
        "format-added",
        {"type": "string"},
        {"type": "string", "format": "uuid"},
        [("/format", "constraint-tightened", True)],
    ),
    (
        "multiple-of-divided",
        {"multipleOf": 4},
        {"multipleOf": 2},
        [("/multipleOf", "constraint-relaxed", False)],
    ),
    (
        "multiple-of-changed",
        {"multipleOf": 2},
        {"multipleOf": 3},
        [("/multipleOf", "constraint-tightened", True)],
    ),
    (
        "unique-items-on",
        {"type": "array"},
        {"type": "array", "uniqueItems": True},
        [("/uniqueItems", "constraint-tightened", True)],
    ),
    (
        "additional-properties-closed",
        obj({"a": {}}),
        obj({"a": {}}, additionalProperties=False),
        [("/additionalProperties", "constraint-tightened", True)],
    ),
    (
        "additional-properties-opened",
        obj({"a": {}}, additionalProperties=False),
        obj({"a": {}}, additionalProperties=True),
        [("/additionalProperties", "constraint-relaxed", False)],
    ),
    (
        "additional-properties-schema-narrowed",
        obj({}, additionalProperties={"type": ["string", "integer"]}),
        obj({}, additionalProperties={"type": "string"}),
        [("/additionalProperties/type", "type-changed", True)],
    ),
    (
        "nested-property",
        obj({"error": obj({"code": {"type": "string"}, "message": {"type": "string"}}, ["code"])}),
        obj({"error": obj({"code": {"type": "string"}}, ["code"])}),
        [("/properties/error/properties/message", "property-removed", True)],
    ),
    (
        "items",
        {"type": "array", "items": {"type": "string", "maxLength": 5}},
        {"type": "array", "items": {"type": "string", "maxLength": 3}},
        [("/items/maxLength", "constraint-tightened", True)],
    ),
    (
        "items-added",
        {"type": "array"},
        {"type": "array", "items": {"type": "string"}},
        [("/items/type", "type-changed", True)],
    ),
    (
        "prefix-items-position-added",
        {"prefixItems": [{"type": "string"}]},
        {"prefixItems": [{"type": "string"}, {"type": "integer"}]},
        [("/prefixItems/1/type", "type-changed", True)],
    ),
    (
        "defs-recursed",
        {"$defs": {"status": STATUS}},
        {
            "$defs": {
                "status": {"type": "string", "enum": ["PENDING", "RUNNING", "COMPLETED", "FAILED", "LOST"]}
            }
        },
        [("/$defs/status/enum", "enum-widened", False)],
    ),
    ("def-removed", {"$defs": {"a": {}}}, {"$defs": {}}, [("/$defs/a", "definition-removed", True)]),
    ("def-added", {}, {"$defs": {"a": {}}}, [("/$defs/a", "definition-added", False)]),
    (
        "property-name-escaped",
        obj({"a/b": {"type": "string"}}),
        obj({}),
        [("/properties/a~1b", "property-removed", True)],
    ),
    (
        "ref-minor-forward",
        {"$ref": "https://observatory.dev/schemas/jobs/job/1.0.0#/$defs/error"},
        {"$ref": "https://observatory.dev/schemas/jobs/job/1.2.0#/$defs/error"},
        [("/$ref", "ref-changed", False)],
    ),
    (
        "ref-major-forward",
        {"$ref": "https://observatory.dev/schemas/jobs/job/1.0.0"},
        {"$ref": "https://observatory.dev/schemas/jobs/job/2.0.0"},
        [("/$ref", "ref-changed", True)],
    ),
    ("ref-local-changed", {"$ref": "#/$defs/a"}, {"$ref": "#/$defs/b"}, [("/$ref", "ref-changed", True)]),
    (
        "one-of-branch",
        {"oneOf": [{"type": "string"}, {"type": "null"}]},
        {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
        [("/oneOf/0/maxLength", "constraint-tightened", True)],
    ),
    ("any-of-rewritten", {"anyOf": [{}, {}]}, {"anyOf": [{}]}, [("/anyOf", "composition-changed", True)]),
    (
        "not-changed",
        {"not": {"type": "null"}},
        {"not": {"type": "string"}},
        [("/not", "composition-changed", True)],
    ),
    (
        "default-changed",
        {"default": "sha256"},
        {"default": "sha512"},
        [("/default", "default-changed", False)],
    ),
    (
        "description-changed",
        {"description": "a"},
        {"description": "b"},
        [("/description", "annotation-changed", False)],
    ),
    ("extension-annotation", {"x-note": 1}, {"x-note": 2}, [("/x-note", "annotation-changed", False)]),
    (
        "event-type-rebound",
        {"x-event-type": "a"},
        {"x-event-type": "b"},
        [("/x-event-type", "keyword-changed", True)],
    ),
    (
        "identity-ignored",
        {"$id": "a/1.0.0", "x-version": "1.0.0"},
        {"$id": "a/1.1.0", "x-version": "1.1.0"},
        [],
    ),
    ("boolean-schema-to-false", True, False, [("/not", "composition-changed", True)]),
]


@pytest.mark.parametrize(("old", "new", "expected"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS])
def test_compare(old: Any, new: Any, expected: list[tuple[str, str, bool]]) -> None:
    found = [(c.pointer, str(c.rule), c.breaking) for c in compare(old, new)]
    assert sorted(found) == sorted(expected)


def test_changes_are_sorted_and_described() -> None:
    old = obj({"b": {"type": "string"}, "a": {"type": "string"}}, ["a"])
    new = obj({"c": {"type": "string"}}, ["c"])
    changes = compare(old, new)
    assert changes == sorted(changes)
    assert all(c.detail for c in changes)


def change(rule: Rule, breaking: bool) -> Change:
    return Change("/properties/foo", rule, breaking, "")


BREAKING = change(Rule.PROPERTY_REMOVED, True)
ADDITIVE = change(Rule.PROPERTY_ADDED_OPTIONAL, False)
COSMETIC = change(Rule.ANNOTATION_CHANGED, False)

# (old version, new version, changes, problems expected)
BUMPS: list[tuple[str, str, list[Change], list[str]]] = [
    ("1.2.0", "2.0.0", [BREAKING], []),
    (
        "1.2.0",
        "1.3.0",
        [BREAKING],
        ["#/properties/foo: property-removed (breaking) without a major bump (1.2.0 -> 1.3.0)"],
    ),
    ("1.2.0", "1.3.0", [ADDITIVE], []),
    ("1.2.0", "2.0.0", [ADDITIVE], []),
    (
        "1.2.0",
        "1.2.1",
        [ADDITIVE],
        ["#/properties/foo: property-added-optional (non-breaking) without a minor bump (1.2.0 -> 1.2.1)"],
    ),
    (
        "1.2.0",
        "1.2.0",
        [ADDITIVE],
        ["#/properties/foo: property-added-optional (non-breaking) without a minor bump (1.2.0 -> 1.2.0)"],
    ),
    ("1.2.0", "1.2.1", [COSMETIC], []),
    (
        "1.2.0",
        "1.2.0",
        [COSMETIC],
        ["#/properties/foo: annotation-changed (non-breaking) without a patch bump (1.2.0 -> 1.2.0)"],
    ),
    ("1.2.0", "1.2.0", [], []),
    ("1.9.3", "1.10.0", [ADDITIVE], []),
    ("1.2.0", "1.1.9", [], ["#: version went down (1.2.0 -> 1.1.9)"]),
    ("2.0.0", "1.9.0", [BREAKING], ["#: version went down (2.0.0 -> 1.9.0)"]),
    ("1.2", "1.3.0", [], ["#: '1.2' is not a MAJOR.MINOR.PATCH version"]),
]


@pytest.mark.parametrize(("old", "new", "changes", "expected"), BUMPS)
def test_check_bump(old: str, new: str, changes: list[Change], expected: list[str]) -> None:
    assert check_bump(old, new, changes) == expected


@pytest.mark.parametrize(
    ("rule", "breaking", "bump"),
    [
        (Rule.PROPERTY_REMOVED, True, Bump.MAJOR),
        (Rule.ENUM_WIDENED, False, Bump.MINOR),
        (Rule.ANNOTATION_CHANGED, False, Bump.PATCH),
    ],
)
def test_change_bump(rule: Rule, breaking: bool, bump: Bump) -> None:
    assert change(rule, breaking).bump is bump
