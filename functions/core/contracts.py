"""The contract registry: every JSON Schema under ``contracts/schemas``, loaded once, indexed by ``$id``.

A schema's name is its path under ``contracts/schemas`` without ``.json`` ("events/job-submitted",
"payloads/hash", "problem"); its ``$id`` is ``https://observatory.dev/schemas/<name>/<version>`` and
``x-version`` repeats the version. Validators are compiled once, with format checking, and resolve
``$ref`` between schemas through a :class:`referencing.Registry`.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ID_PREFIX = "https://observatory.dev/schemas/"
ID_PATTERN = re.compile(
    r"^https://observatory\.dev/schemas/(?P<name>[a-z0-9-]+(?:/[a-z0-9-]+)*)/(?P<version>\d+\.\d+\.\d+)$"
)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
VERSION_KEY = "x-version"
EVENT_TYPE_KEY = "x-event-type"
PAYLOADS = "payloads/"
SUBMISSION = "jobs/submission"
OpenApiName = Literal["gateway", "readmodel"]

# A repr longer than this is cut in messages: a 1 MiB string must not become a 1 MiB error.
_MAX_REPR = 80


class ContractError(Exception):
    """Base of the registry's errors."""


class ContractLoadError(ContractError):
    """The contracts directory is missing or holds a schema that cannot be used."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class UnknownSchemaError(ContractError, LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no schema named or identified by {key!r}")
        self.key = key


class UnknownJobTypeError(ContractError, LookupError):
    def __init__(self, job_type: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown job type {job_type!r} (known: {', '.join(known)})")
        self.job_type = job_type


class UnknownEventTypeError(ContractError, LookupError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"no data schema declares event type {event_type!r}")
        self.event_type = event_type


@dataclass(frozen=True, order=True)
class Violation:
    """One reason an instance does not match a schema, at an RFC 6901 pointer ("" for the root)."""

    pointer: str
    message: str
    keyword: str = ""  # the failing JSON Schema keyword, e.g. "maximum"; fixtures assert on it


@dataclass(frozen=True)
class Schema:
    name: str
    id: str
    version: str
    path: Path
    document: Mapping[str, Any]


def find_contracts_dir(start: Path | None = None) -> Path:
    """The ``contracts`` directory: walk up from ``start`` (default: this file), then from the cwd.

    The cwd fallback covers an installed (non-editable) package run from the repository root, which is
    how the container images run the functions.
    """
    for origin in (start or Path(__file__).resolve(), Path.cwd()):
        for directory in (origin, *origin.parents):
            if (directory / "contracts" / "schemas").is_dir():
                return directory / "contracts"
    raise ContractLoadError(
        "contracts",
        "no such directory above this package or the working directory; "
        "pass its path (e.g. from OBSERVATORY_CONTRACTS_DIR)",
    )


def json_pointer(parts: Iterator[str | int] | tuple[str | int, ...] | list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _is_datetime(value: object) -> bool:
    # RFC 3339 date-time; jsonschema only checks it when an optional package is installed.
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("date-time")(_is_datetime)
    return checker


def _short(value: object) -> str:
    text = repr(value)
    if len(text) <= _MAX_REPR:
        return text
    if isinstance(value, str):
        size = f" ({len(value)} characters)"
    elif isinstance(value, list | dict):
        size = f" ({len(value)} items)"
    else:
        size = ""
    return text[: _MAX_REPR - 10] + "…" + size


def _violations(error: ValidationError, prefix: tuple[str | int, ...]) -> list[Violation]:
    """Turn one jsonschema error into readable violations that point at the offending member."""
    where = (*prefix, *error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        return [Violation(json_pointer((*where, name)), f"{name!r} is required", keyword) for name in missing]
    if keyword == "additionalProperties" and isinstance(instance, dict) and error.validator_value is False:
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
        extra = [
            name for name in instance if name not in known and not any(re.search(p, name) for p in patterns)
        ]
        return [
            Violation(json_pointer((*where, name)), f"{name!r} is not an allowed property", keyword)
            for name in extra
        ]
    if keyword in ("oneOf", "anyOf") and error.context:
        # The alternative that got furthest explains the failure better than "not valid under any".
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.message)))
        return _violations(deepest, prefix)
    message = error.message
    full = repr(instance)
    if len(full) > _MAX_REPR and message.startswith(full):
        message = _short(instance) + message[len(full) :]
    return [Violation(json_pointer(where), message, keyword)]


class ContractRegistry:
    """All schemas of one contracts directory, with compiled validators. Build it with :meth:`load`."""

    def __init__(self, root: Path, schemas: list[Schema]) -> None:
        self.root = root
        self._by_name = {s.name: s for s in schemas}
        self._by_id = {s.id: s for s in schemas}
        resources = [(s.id, Resource.from_contents(dict(s.document), DRAFT202012)) for s in schemas]
        registry: Registry[Any] = Registry().with_resources(resources)
        checker = _format_checker()
        self._validators = {
            s.id: Draft202012Validator(dict(s.document), registry=registry, format_checker=checker)
            for s in schemas
        }
        self._event_types = {
            str(s.document[EVENT_TYPE_KEY]): s.id for s in schemas if EVENT_TYPE_KEY in s.document
        }
        self._job_types = tuple(
            sorted(n.removeprefix(PAYLOADS) for n in self._by_name if n.startswith(PAYLOADS))
        )
        self._openapi: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, root: Path | None = None) -> ContractRegistry:
        """Load ``root`` (the contracts directory, or a directory holding ``contracts/``)."""
        if root is None:
            root = find_contracts_dir()
        elif not (root / "schemas").is_dir() and (root / "contracts" / "schemas").is_dir():
            root = root / "contracts"
        schema_dir = root / "schemas"
        if not schema_dir.is_dir():
            raise ContractLoadError(schema_dir, "no such directory")
        schemas = [read_schema(schema_dir, path) for path in sorted(schema_dir.rglob("*.json"))]
        seen: dict[str, Path] = {}
        for s in schemas:
            if s.id in seen:
                raise ContractLoadError(s.path, f"$id {s.id} is also used by {seen[s.id]}")
            seen[s.id] = s.path
        return cls(root, schemas)

    # -- lookup ---------------------------------------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_name))

    def get(self, schema_id_or_name: str) -> Schema:
        found = self._by_id.get(schema_id_or_name) or self._by_name.get(schema_id_or_name)
        if found is None:
            raise UnknownSchemaError(schema_id_or_name)
        return found

    def schema_id(self, name: str) -> str:
        return self.get(name).id

    def schema(self, schema_id_or_name: str) -> dict[str, Any]:
        """A copy of the schema document, safe to change."""
        return copy.deepcopy(dict(self.get(schema_id_or_name).document))

    def job_types(self) -> tuple[str, ...]:
        """One per file in contracts/schemas/payloads: adding a type is adding a schema."""
        return self._job_types

    def payload_schema_id(self, job_type: str) -> str:
        found = self._by_name.get(PAYLOADS + job_type)
        if found is None:
            raise UnknownJobTypeError(job_type, self._job_types)
        return found.id

    def event_types(self) -> tuple[str, ...]:
        return tuple(sorted(self._event_types))

    def event_schema_id(self, event_type: str) -> str:
        """The ``dataschema`` of an event type, e.g. dev.observatory.job.submitted → .../job-submitted/1.0.0."""
        try:
            return self._event_types[event_type]
        except KeyError:
            raise UnknownEventTypeError(event_type) from None

    def openapi(self, name: OpenApiName, *, bundled: bool = False) -> dict[str, Any]:
        """The OpenAPI document; a copy, safe to change.

        As stored, it refers to schemas by ``$id``. ``bundled=True`` copies each referenced schema into
        ``components/schemas`` and points every ``$ref`` inside the document, which is what a server
        should answer on ``/openapi.json``: Swagger UI and code generators cannot fetch the ``$id`` URLs.
        """
        if name not in self._openapi:
            path = self.root / "openapi" / f"{name}.json"
            try:
                self._openapi[name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ContractLoadError(path, str(exc)) from exc
        document = copy.deepcopy(self._openapi[name])
        return self._bundle(document) if bundled else document

    def _bundle(self, document: dict[str, Any]) -> dict[str, Any]:
        components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
        pending: list[str] = []

        def local(schema_id: str) -> str:
            key = self.get(schema_id).name.replace("/", ".")
            if key not in components:
                components[key] = None  # reserved; filled below, so cycles terminate
                pending.append(schema_id)
            return f"#/components/schemas/{key}"

        def rewrite(node: Any, here: str | None) -> None:
            # ``here`` is the component an embedded schema now lives at: its own "#/..." refs move with it.
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    target, _, fragment = ref.partition("#")
                    if target:
                        node["$ref"] = local(target) + fragment
                    elif here is not None:
                        node["$ref"] = here + fragment
                for value in node.values():
                    rewrite(value, here)
            elif isinstance(node, list):
                for value in node:
                    rewrite(value, here)

        rewrite(document, None)
        while pending:
            schema_id = pending.pop()
            embedded = self.schema(schema_id)
            for keyword in ("$schema", "$id"):
                embedded.pop(keyword, None)
            key = local(schema_id)
            rewrite(embedded, key)
            components[key.rsplit("/", 1)[-1]] = embedded
        return document

    # -- validation -----------------------------------------------------------------------------------

    def validate(self, schema_id_or_name: str, instance: object) -> list[Violation]:
        """Every violation, sorted by pointer then message; empty when the instance is valid."""
        validator = self._validators[self.get(schema_id_or_name).id]
        return _collect(validator, instance, ())

    def validate_submission(self, body: object) -> list[Violation]:
        """POST /jobs: the envelope, then the payload against its type's schema (pointers under /payload)."""
        problems = self.validate(SUBMISSION, body)
        if problems or not isinstance(body, dict):
            return problems
        job_type = body["type"]
        found = self._by_name.get(PAYLOADS + job_type)
        if found is None:
            known = ", ".join(self._job_types)
            return [Violation("/type", f"{job_type!r} is not a known job type ({known})", "enum")]
        return _collect(self._validators[found.id], body["payload"], ("payload",))


def _collect(
    validator: Draft202012Validator, instance: object, prefix: tuple[str | int, ...]
) -> list[Violation]:
    found = {v for error in validator.iter_errors(instance) for v in _violations(error, prefix)}
    return sorted(found)


def read_schema(schema_dir: Path, path: Path) -> Schema:
    """Parse one schema file and check what the registry relies on: JSON, a 2020-12 schema, a usable $id."""
    name = path.relative_to(schema_dir).with_suffix("").as_posix()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractLoadError(path, f"not readable JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ContractLoadError(path, "a schema must be a JSON object")
    try:
        Draft202012Validator.check_schema(document)
    except SchemaError as exc:
        raise ContractLoadError(path, f"not a valid 2020-12 schema: {exc.message}") from exc
    schema_id = document.get("$id")
    match = ID_PATTERN.match(schema_id) if isinstance(schema_id, str) else None
    if match is None:
        raise ContractLoadError(path, f"$id must look like {ID_PREFIX}<name>/<MAJOR.MINOR.PATCH>")
    if match["name"] != name:
        raise ContractLoadError(path, f"$id names {match['name']!r} but the file is {name!r}")
    if document.get(VERSION_KEY) != match["version"]:
        found = document.get(VERSION_KEY)
        raise ContractLoadError(
            path, f"{VERSION_KEY} {found!r} differs from the $id version {match['version']}"
        )
    return Schema(name=name, id=match.string, version=match["version"], path=path, document=document)


@functools.cache
def default_registry() -> ContractRegistry:
    """The registry of the repository's own contracts/, loaded on first use."""
    return ContractRegistry.load()
