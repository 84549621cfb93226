"""Schema compatibility rules: what changed between two versions of a JSON Schema, and which bump it needs.

Pure: dictionaries in, findings out. A change is *breaking* when a document valid under the old schema
may be invalid under the new one, or when a consumer loses a member it could rely on. Where the
difference cannot be decided without running both schemas (a new pattern, a changed ``$ref``, a
rewritten ``oneOf``), it is called breaking: a needless major bump is cheaper than a broken consumer.

One module on purpose (a little over 400 lines): each keyword family is a short function, and the
rules read best side by side, the way VERSIONS.md's table lists them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any


class Rule(StrEnum):
    PROPERTY_REMOVED = "property-removed"
    PROPERTY_ADDED_OPTIONAL = "property-added-optional"
    REQUIRED_ADDED = "required-added"
    REQUIRED_REMOVED = "required-removed"
    ENUM_NARROWED = "enum-narrowed"
    ENUM_WIDENED = "enum-widened"
    TYPE_CHANGED = "type-changed"
    CONSTRAINT_TIGHTENED = "constraint-tightened"
    CONSTRAINT_RELAXED = "constraint-relaxed"
    DEFINITION_REMOVED = "definition-removed"
    DEFINITION_ADDED = "definition-added"
    REF_CHANGED = "ref-changed"
    COMPOSITION_CHANGED = "composition-changed"
    DEFAULT_CHANGED = "default-changed"
    KEYWORD_CHANGED = "keyword-changed"
    ANNOTATION_CHANGED = "annotation-changed"


class Bump(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Change:
    pointer: str  # RFC 6901 pointer into the *schema*, e.g. "/properties/foo"
    rule: str
    breaking: bool
    detail: str

    @property
    def bump(self) -> Bump:
        """The least version bump this change needs."""
        if self.breaking:
            return Bump.MAJOR
        return Bump.PATCH if self.rule == Rule.ANNOTATION_CHANGED else Bump.MINOR


# Keywords that describe rather than constrain: changing them needs only a patch bump.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
    }
)
# Identity of the document itself; versions are compared by check_bump, not here.
_IGNORED = frozenset({"$schema", "$id", "x-version", "$anchor"})
# Extension keywords that code relies on (the registry maps event types by it): never mere annotations.
_BINDING = frozenset({"x-event-type"})
# Lower bounds tighten when they rise, upper bounds when they fall.
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_SUBSCHEMAS = (
    "items",
    "contains",
    "propertyNames",
    "additionalItems",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_COMPOSITION = (
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependentRequired",
)
_HANDLED = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties", "patternProperties",
        "prefixItems", "$defs", "definitions", "$ref", "pattern", "format", "multipleOf", "uniqueItems",
        "default", *_LOWER, *_UPPER, *_SUBSCHEMAS, *_COMPOSITION, *_ANNOTATIONS, *_IGNORED,
    }
)  # fmt: skip
_ID = re.compile(r"^(?P<base>.+)/(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<fragment>#.*)?$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def compare(old: Mapping[str, Any] | bool, new: Mapping[str, Any] | bool) -> list[Change]:
    """Every difference between two schemas that matters to a consumer, sorted by pointer then rule."""
    changes: list[Change] = []
    _compare(_as_dict(old), _as_dict(new), "", changes)
    return sorted(set(changes))


def check_bump(old_version: str, new_version: str, changes: Iterable[Change]) -> list[str]:
    """Problems with moving from ``old_version`` to ``new_version`` given ``changes``; empty when fine.

    Each problem reads ``#<pointer>: <rule> (<breaking|non-breaking>) without a <major|minor|patch>
    bump (<old> -> <new>)`` so that a caller can prefix the schema's path.
    """
    old, new = _parse(old_version), _parse(new_version)
    if old is None or new is None:
        bad = old_version if old is None else new_version
        return [f"#: {bad!r} is not a MAJOR.MINOR.PATCH version"]
    if new < old:
        return [f"#: version went down ({old_version} -> {new_version})"]
    bump = _bump_between(old, new)
    problems = []
    for change in sorted(set(changes)):
        if change.bump > bump:
            kind = "breaking" if change.breaking else "non-breaking"
            problems.append(
                f"#{change.pointer}: {change.rule} ({kind}) without a {change.bump} bump "
                f"({old_version} -> {new_version})"
            )
    return problems


def _bump_between(old: tuple[int, int, int], new: tuple[int, int, int]) -> Bump:
    if new[0] > old[0]:
        return Bump.MAJOR
    if new[1] > old[1]:
        return Bump.MINOR
    if new[2] > old[2]:
        return Bump.PATCH
    return Bump.NONE


def _parse(version: str) -> tuple[int, int, int] | None:
    match = _SEMVER.match(version) if isinstance(version, str) else None
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3])


def _as_dict(schema: Mapping[str, Any] | bool) -> dict[str, Any]:
    # Boolean schemas: true accepts everything ({}), false nothing ({"not": {}}).
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    return dict(schema)


def _escape(token: str | int) -> str:
    return "/" + str(token).replace("~", "~0").replace("/", "~1")


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _compare(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    if old == new:
        return
    _types(old, new, at, out)
    _enums(old, new, at, out)
    _bounds(old, new, at, out)
    _strings(old, new, at, out)
    _properties(old, new, at, out)
    _additional(old, new, at, out)
    _items(old, new, at, out)
    _definitions(old, new, at, out)
    _refs(old, new, at, out)
    _composition(old, new, at, out)
    _others(old, new, at, out)


def _type_set(schema: dict[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    types = {declared} if isinstance(declared, str) else set(declared)
    if "number" in types:
        types.add("integer")  # every integer is a number: number -> integer narrows, the reverse widens
    return types


def _types(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    before, after = _type_set(old), _type_set(new)
    if before == after:
        return
    pointer = at + "/type"
    if after is None:
        out.append(
            Change(pointer, Rule.TYPE_CHANGED, False, f"type {old['type']!r} removed: any type accepted")
        )
    elif before is None:
        out.append(
            Change(pointer, Rule.TYPE_CHANGED, True, f"type {new['type']!r} added where any was accepted")
        )
    elif before - after:
        out.append(
            Change(pointer, Rule.TYPE_CHANGED, True, f"type narrowed from {old['type']!r} to {new['type']!r}")
        )
    else:
        out.append(
            Change(pointer, Rule.TYPE_CHANGED, False, f"type widened from {old['type']!r} to {new['type']!r}")
        )


def _allowed(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The closed set of allowed values (``enum``, or ``const`` as a one-value enum), by canonical JSON."""
    if "const" in schema:
        return {_canon(schema["const"]): schema["const"]}
    if "enum" in schema:
        return {_canon(v): v for v in schema["enum"]}
    return None


def _enums(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    before, after = _allowed(old), _allowed(new)
    if before == after:
        return
    pointer = at + ("/const" if "const" in new or ("const" in old and "enum" not in new) else "/enum")
    if after is None:
        out.append(Change(pointer, Rule.ENUM_WIDENED, False, "closed set of values removed"))
        return
    if before is None:
        out.append(
            Change(pointer, Rule.ENUM_NARROWED, True, f"values restricted to {list(after.values())!r}")
        )
        return
    removed = [v for k, v in before.items() if k not in after]
    added = [v for k, v in after.items() if k not in before]
    if removed:
        out.append(Change(pointer, Rule.ENUM_NARROWED, True, f"values removed: {removed!r}"))
    if added:
        out.append(Change(pointer, Rule.ENUM_WIDENED, False, f"values added: {added!r}"))


def _bound(keyword: str, old: Any, new: Any, at: str, tighter_when_higher: bool, out: list[Change]) -> None:
    if old == new or isinstance(old, bool) or isinstance(new, bool):
        return
    pointer = f"{at}/{keyword}"
    if old is None:
        out.append(Change(pointer, Rule.CONSTRAINT_TIGHTENED, True, f"{keyword} {new} added"))
    elif new is None:
        out.append(Change(pointer, Rule.CONSTRAINT_RELAXED, False, f"{keyword} {old} removed"))
    elif (new > old) == tighter_when_higher:
        out.append(Change(pointer, Rule.CONSTRAINT_TIGHTENED, True, f"{keyword} {old} -> {new}"))
    else:
        out.append(Change(pointer, Rule.CONSTRAINT_RELAXED, False, f"{keyword} {old} -> {new}"))


def _bounds(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    for keyword in _LOWER:
        _bound(keyword, old.get(keyword), new.get(keyword), at, True, out)
    for keyword in _UPPER:
        _bound(keyword, old.get(keyword), new.get(keyword), at, False, out)
    before, after = old.get("multipleOf"), new.get("multipleOf")
    if before != after:
        pointer = at + "/multipleOf"
        # multipleOf 4 -> 2 accepts every old value; 2 -> 4 or 2 -> 3 does not.
        relaxed = after is None or (
            before is not None and after != 0 and (before / after) == int(before / after)
        )
        rule = Rule.CONSTRAINT_RELAXED if relaxed else Rule.CONSTRAINT_TIGHTENED
        out.append(Change(pointer, rule, not relaxed, f"multipleOf {before} -> {after}"))
    if old.get("uniqueItems", False) != new.get("uniqueItems", False):
        tightened = bool(new.get("uniqueItems"))
        rule = Rule.CONSTRAINT_TIGHTENED if tightened else Rule.CONSTRAINT_RELAXED
        out.append(Change(at + "/uniqueItems", rule, tightened, f"uniqueItems -> {tightened}"))


def _strings(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    # Whether one regular expression or format accepts a superset of another is not decidable here:
    # only their removal is known to relax.
    for keyword in ("pattern", "format"):
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            continue
        pointer = f"{at}/{keyword}"
        if after is None:
            out.append(Change(pointer, Rule.CONSTRAINT_RELAXED, False, f"{keyword} {before!r} removed"))
        else:
            verb = "added" if before is None else f"changed from {before!r}"
            out.append(Change(pointer, Rule.CONSTRAINT_TIGHTENED, True, f"{keyword} {after!r} {verb}"))


def _properties(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    before: dict[str, Any] = old.get("properties", {})
    after: dict[str, Any] = new.get("properties", {})
    required_before, required_after = set(old.get("required", [])), set(new.get("required", []))
    for name in before:
        pointer = f"{at}/properties{_escape(name)}"
        if name not in after:
            out.append(Change(pointer, Rule.PROPERTY_REMOVED, True, f"property {name!r} removed"))
        else:
            _compare(_as_dict(before[name]), _as_dict(after[name]), pointer, out)
    for name in after:
        if name not in before and name not in required_after:
            pointer = f"{at}/properties{_escape(name)}"
            out.append(
                Change(pointer, Rule.PROPERTY_ADDED_OPTIONAL, False, f"optional property {name!r} added")
            )
    for name in sorted(required_after - required_before):
        pointer = f"{at}/properties{_escape(name)}"
        out.append(Change(pointer, Rule.REQUIRED_ADDED, True, f"property {name!r} is now required"))
    for name in sorted(required_before - required_after):
        if name in after or name not in before:  # a removed property is already reported as removed
            pointer = f"{at}/properties{_escape(name)}"
            out.append(Change(pointer, Rule.REQUIRED_REMOVED, False, f"property {name!r} is now optional"))
    _keyed(old.get("patternProperties", {}), new.get("patternProperties", {}), f"{at}/patternProperties", out)


def _keyed(before: dict[str, Any], after: dict[str, Any], at: str, out: list[Change]) -> None:
    """Subschemas keyed by a name that is not a property (patternProperties, dependentSchemas)."""
    for key in before:
        pointer = at + _escape(key)
        if key not in after:
            out.append(Change(pointer, Rule.COMPOSITION_CHANGED, True, f"{key!r} removed"))
        else:
            _compare(_as_dict(before[key]), _as_dict(after[key]), pointer, out)
    for key in after:
        if key not in before:
            out.append(Change(at + _escape(key), Rule.COMPOSITION_CHANGED, True, f"{key!r} added"))


def _additional(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
    if before == after:
        return
    pointer = at + "/additionalProperties"
    if after is False:
        out.append(
            Change(pointer, Rule.CONSTRAINT_TIGHTENED, True, "additional properties no longer allowed")
        )
    elif before is False:
        out.append(Change(pointer, Rule.CONSTRAINT_RELAXED, False, "additional properties now allowed"))
    else:
        _compare(_as_dict(before), _as_dict(after), pointer, out)


def _items(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    for keyword in _SUBSCHEMAS:
        if keyword in old or keyword in new:
            _compare(
                _as_dict(old.get(keyword, True)), _as_dict(new.get(keyword, True)), f"{at}/{keyword}", out
            )
    before: list[Any] = old.get("prefixItems", [])
    after: list[Any] = new.get("prefixItems", [])
    for index in range(max(len(before), len(after))):
        # A missing position accepts anything, so dropping one relaxes and adding one tightens.
        left = before[index] if index < len(before) else True
        right = after[index] if index < len(after) else True
        _compare(_as_dict(left), _as_dict(right), f"{at}/prefixItems/{index}", out)


def _definitions(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    for keyword in ("$defs", "definitions"):
        before: dict[str, Any] = old.get(keyword, {})
        after: dict[str, Any] = new.get(keyword, {})
        for name in before:
            pointer = f"{at}/{keyword}{_escape(name)}"
            if name not in after:
                # Another schema may $ref it by $id and fragment.
                out.append(Change(pointer, Rule.DEFINITION_REMOVED, True, f"definition {name!r} removed"))
            else:
                _compare(_as_dict(before[name]), _as_dict(after[name]), pointer, out)
        for name in after:
            if name not in before:
                pointer = f"{at}/{keyword}{_escape(name)}"
                out.append(Change(pointer, Rule.DEFINITION_ADDED, False, f"definition {name!r} added"))


def _refs(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    before, after = old.get("$ref"), new.get("$ref")
    if before == after:
        return
    # A versioned $id moving forward within one major is compatible by that schema's own promise.
    left = _ID.match(before) if isinstance(before, str) else None
    right = _ID.match(after) if isinstance(after, str) else None
    compatible = (
        left is not None
        and right is not None
        and left["base"] == right["base"]
        and left["fragment"] == right["fragment"]
        and left["major"] == right["major"]
        and (int(right["minor"]), int(right["patch"])) >= (int(left["minor"]), int(left["patch"]))
    )
    out.append(Change(at + "/$ref", Rule.REF_CHANGED, not compatible, f"$ref {before!r} -> {after!r}"))


def _composition(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    for keyword in ("allOf", "anyOf", "oneOf"):
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            continue
        pointer = f"{at}/{keyword}"
        if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
            for index, (left, right) in enumerate(zip(before, after, strict=True)):
                _compare(_as_dict(left), _as_dict(right), f"{pointer}/{index}", out)
        else:
            out.append(Change(pointer, Rule.COMPOSITION_CHANGED, True, f"{keyword} rewritten"))
    for keyword in ("not", "if", "then", "else", "dependentRequired"):
        if _canon(old.get(keyword)) != _canon(new.get(keyword)):
            out.append(Change(f"{at}/{keyword}", Rule.COMPOSITION_CHANGED, True, f"{keyword} changed"))
    _keyed(old.get("dependentSchemas", {}), new.get("dependentSchemas", {}), f"{at}/dependentSchemas", out)


def _others(old: dict[str, Any], new: dict[str, Any], at: str, out: list[Change]) -> None:
    if _canon(old.get("default")) != _canon(new.get("default")):
        detail = f"default {old.get('default')!r} -> {new.get('default')!r}"
        out.append(Change(at + "/default", Rule.DEFAULT_CHANGED, False, detail))
    for keyword in sorted((set(old) | set(new)) - _HANDLED):
        if _canon(old.get(keyword)) == _canon(new.get(keyword)):
            continue
        if keyword.startswith("x-") and keyword not in _BINDING:
            out.append(Change(f"{at}/{keyword}", Rule.ANNOTATION_CHANGED, False, f"{keyword} changed"))
        else:
            out.append(
                Change(
                    f"{at}/{keyword}", Rule.KEYWORD_CHANGED, True, f"unrecognised keyword {keyword} changed"
                )
            )
    for keyword in sorted(_ANNOTATIONS & (set(old) | set(new))):
        if _canon(old.get(keyword)) != _canon(new.get(keyword)):
            out.append(Change(f"{at}/{keyword}", Rule.ANNOTATION_CHANGED, False, f"{keyword} changed"))
