"""The contract registry against the repository's own contracts/ and a few synthetic ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from functions.core.contracts import (
    ContractLoadError,
    ContractRegistry,
    UnknownEventTypeError,
    UnknownJobTypeError,
    UnknownSchemaError,
    Violation,
    default_registry,
    find_contracts_dir,
)
from functions.core.jobs import EventType

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
FIXTURES = CONTRACTS / "fixtures"
JOB_ID = "3f2c1a9e-5b7d-4c8e-9a01-2b3c4d5e6f70"


@pytest.fixture(scope="module")
def registry() -> ContractRegistry:
    return ContractRegistry.load(CONTRACTS)


def _fixtures(kind: str) -> list[tuple[str, Path]]:
    base = FIXTURES / kind
    return [
        (path.parent.relative_to(base).as_posix(), path)
        for path in sorted(base.rglob("*.json"))
        if path.name != "_expected.json"
    ]


def _expected(path: Path) -> dict[str, str]:
    index: dict[str, dict[str, str]] = json.loads((path.parent / "_expected.json").read_text())
    return index[path.name]


GOLDEN = _fixtures("golden")
NEGATIVE = _fixtures("negative")


def test_fixture_sets_are_not_empty() -> None:
    assert len(GOLDEN) >= 15
    assert len(NEGATIVE) >= 15


@pytest.mark.parametrize(("name", "path"), GOLDEN, ids=[f"{n}/{p.stem}" for n, p in GOLDEN])
def test_golden_fixture_passes(registry: ContractRegistry, name: str, path: Path) -> None:
    assert registry.validate(name, json.loads(path.read_text())) == []


@pytest.mark.parametrize(("name", "path"), NEGATIVE, ids=[f"{n}/{p.stem}" for n, p in NEGATIVE])
def test_negative_fixture_fails_at_expected_pointer(
    registry: ContractRegistry, name: str, path: Path
) -> None:
    expected = _expected(path)
    violations = registry.validate(name, json.loads(path.read_text()))
    assert [(v.pointer, v.keyword) for v in violations] == [(expected["pointer"], expected["keyword"])]


def test_every_schema_has_golden_and_negative_fixtures(registry: ContractRegistry) -> None:
    assert {n for n, _ in GOLDEN} == set(registry.names())
    assert {n for n, _ in NEGATIVE} == set(registry.names())


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_has_a_resolvable_dataschema(
    registry: ContractRegistry, event_type: EventType
) -> None:
    dataschema = registry.event_schema_id(event_type.value)
    assert dataschema == f"https://observatory.dev/schemas/events/job-{event_type.phase}/1.0.0"
    assert registry.schema(dataschema)["x-event-type"] == event_type.value
    assert registry.validate(dataschema, {}) != []  # a real schema, not an accept-all


def test_event_types_are_exactly_the_five(registry: ContractRegistry) -> None:
    assert set(registry.event_types()) == {e.value for e in EventType}


def test_job_types_are_exactly_the_six(registry: ContractRegistry) -> None:
    assert registry.job_types() == ("echo", "fail", "flaky", "hash", "sleep", "wordcount")
    assert registry.payload_schema_id("hash") == "https://observatory.dev/schemas/payloads/hash/1.0.0"
    with pytest.raises(UnknownJobTypeError, match="'nope'"):
        registry.payload_schema_id("nope")


def test_schema_ids_carry_their_version(registry: ContractRegistry) -> None:
    for name in registry.names():
        schema = registry.schema(name)
        assert registry.schema_id(name) == f"https://observatory.dev/schemas/{name}/{schema['x-version']}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "echo", "payload": {"message": "hi"}}, []),
        ({"id": JOB_ID, "type": "sleep", "payload": {"seconds": 1.5}}, []),
        (
            {"type": "hash", "payload": {"data": "x", "rounds": 200000}},
            [Violation("/payload/rounds", "200000 is greater than the maximum of 100000", "maximum")],
        ),
        (
            {"type": "sleep", "payload": {}},
            [Violation("/payload/seconds", "'seconds' is required", "required")],
        ),
        (
            {"type": "bogus", "payload": {}},
            [
                Violation(
                    "/type",
                    "'bogus' is not a known job type (echo, fail, flaky, hash, sleep, wordcount)",
                    "enum",
                )
            ],
        ),
        (
            {"type": "echo", "payload": {"message": "hi"}, "priority": 1},
            [Violation("/priority", "'priority' is not an allowed property", "additionalProperties")],
        ),
        ([], [Violation("", "[] is not of type 'object'", "type")]),
    ],
)
def test_validate_submission(registry: ContractRegistry, body: Any, expected: list[Violation]) -> None:
    assert registry.validate_submission(body) == expected


def test_submission_schema_alone_does_not_check_the_payload(registry: ContractRegistry) -> None:
    body = {"type": "hash", "payload": {"rounds": "many"}}
    assert registry.validate("jobs/submission", body) == []
    assert [v.pointer for v in registry.validate_submission(body)] == ["/payload/data", "/payload/rounds"]


def test_violations_are_sorted_and_point_at_each_member(registry: ContractRegistry) -> None:
    violations = registry.validate("jobs/job", {"status": "LOST", "extra": 1})
    assert violations == sorted(violations)
    pointers = [v.pointer for v in violations]
    assert "/extra" in pointers
    assert "/id" in pointers and "/createdAt" in pointers
    assert "/status" in pointers


def test_validate_by_id_and_by_name_agree(registry: ContractRegistry) -> None:
    instance = {"seconds": 99}
    by_name = registry.validate("payloads/sleep", instance)
    assert by_name == registry.validate("https://observatory.dev/schemas/payloads/sleep/1.0.0", instance)
    assert by_name == [Violation("/seconds", "99 is greater than the maximum of 30", "maximum")]


def test_unknown_schema(registry: ContractRegistry) -> None:
    with pytest.raises(UnknownSchemaError):
        registry.validate("payloads/nope", {})
    with pytest.raises(UnknownSchemaError):
        registry.validate("https://observatory.dev/schemas/payloads/sleep/9.9.9", {})
    with pytest.raises(UnknownEventTypeError):
        registry.event_schema_id("dev.observatory.job.exploded")


def test_huge_values_are_cut_in_messages(registry: ContractRegistry) -> None:
    [violation] = registry.validate("payloads/wordcount", {"text": "w " * 600_000})
    assert violation.pointer == "/text"
    assert len(violation.message) < 200
    assert "1200000 characters" in violation.message


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2025-01-15T09:30:00Z", True),
        ("2025-01-15T09:30:00.123456+05:30", True),
        ("2025-01-15t09:30:00z", True),
        ("2025-01-15 09:30:00Z", False),
        ("2025-01-15T09:30:00", False),
        ("2025-02-30T09:30:00Z", False),
        ("yesterday", False),
    ],
)
def test_date_time_format_is_checked(registry: ContractRegistry, value: str, valid: bool) -> None:
    data = {"jobId": JOB_ID, "type": "echo", "startedAt": value, "attempt": 1}
    assert (registry.validate("events/job-started", data) == []) is valid


def test_openapi_documents_reference_schemas_by_id(registry: ContractRegistry) -> None:
    gateway = registry.openapi("gateway")
    assert gateway["openapi"].startswith("3.1")
    body = gateway["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": registry.schema_id("jobs/submission")}
    readmodel = registry.openapi("readmodel")
    assert "/dead-letters/{id}/replay" in readmodel["paths"]
    gateway["paths"].clear()  # a copy: the registry's own stays intact
    assert registry.openapi("gateway")["paths"]


def test_refs_between_schemas_resolve(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    (root / "schemas" / "things").mkdir(parents=True)
    base = "https://observatory.dev/schemas/things"
    _write(root / "schemas/things/colour.json", _schema(f"{base}/colour/1.0.0", {"enum": ["red", "blue"]}))
    _write(
        root / "schemas/things/ball.json",
        _schema(
            f"{base}/ball/1.0.0",
            {"type": "object", "properties": {"colour": {"$ref": f"{base}/colour/1.0.0"}}},
        ),
    )
    registry = ContractRegistry.load(root)
    assert registry.validate("things/ball", {"colour": "red"}) == []
    assert [v.pointer for v in registry.validate("things/ball", {"colour": "green"})] == ["/colour"]


def _schema(schema_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "x-version": schema_id.rsplit("/", 1)[-1],
        **body,
    }


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("file", "document", "reason"),
    [
        (
            "things/a.json",
            {"$id": "https://observatory.dev/schemas/things/a/1.0.0"},
            "x-version None differs",
        ),
        (
            "things/a.json",
            {"$id": "https://observatory.dev/schemas/things/a/1.0.0", "x-version": "1.0.1"},
            "x-version '1.0.1' differs",
        ),
        (
            "things/a.json",
            {"$id": "https://observatory.dev/schemas/things/b/1.0.0", "x-version": "1.0.0"},
            "names 'things/b'",
        ),
        ("things/a.json", {"$id": "https://example.com/a.json"}, "$id must look like"),
        ("things/a.json", {"type": "nonsense"}, "not a valid 2020-12 schema"),
        ("things/a.json", [], "must be a JSON object"),
    ],
)
def test_load_refuses_inconsistent_schemas(tmp_path: Path, file: str, document: Any, reason: str) -> None:
    _write(tmp_path / "schemas" / file, document)
    with pytest.raises(ContractLoadError) as caught:
        ContractRegistry.load(tmp_path)
    assert reason in caught.value.reason
    assert caught.value.path.name == "a.json"


def test_load_accepts_the_contracts_dir_or_its_parent(tmp_path: Path) -> None:
    shutil.copytree(CONTRACTS / "schemas", tmp_path / "contracts" / "schemas")
    assert ContractRegistry.load(tmp_path).names() == ContractRegistry.load(tmp_path / "contracts").names()
    with pytest.raises(ContractLoadError, match="no such directory"):
        ContractRegistry.load(tmp_path / "elsewhere")


def test_contracts_dir_is_found_from_the_package() -> None:
    assert find_contracts_dir() == CONTRACTS
    assert default_registry() is default_registry()
    assert default_registry().root == CONTRACTS


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _at(document: Any, pointer: str) -> Any:
    for token in pointer.lstrip("/").split("/"):
        document = document[token.replace("~1", "/").replace("~0", "~")]
    return document


@pytest.mark.parametrize("name", ["gateway", "readmodel"])
def test_bundled_openapi_is_self_contained(registry: ContractRegistry, name: Any) -> None:
    stored = registry.openapi(name)
    bundled = registry.openapi(name, bundled=True)
    assert any(not ref.startswith("#") for ref in _refs(stored))
    refs = _refs(bundled)
    assert refs and all(ref.startswith("#/") for ref in refs)
    for ref in refs:
        assert _at(bundled, ref[1:]) is not None, ref
    problem = bundled["components"]["schemas"]["problem"]
    assert "$id" not in problem
    assert problem["properties"] == registry.schema("problem")["properties"]
