"""``observatory contracts check [--base REF]``: keep contracts/ consistent and its versions honest.

Checks that every schema loads and names its version consistently, that VERSIONS.json agrees, that
golden fixtures pass and negative ones fail for their recorded reason, that every OpenAPI ``$ref``
resolves and, against a git base, that each changed schema carries the bump its changes need
(``functions.core.compat``). Prints one line per problem and a summary; exit 0 clean, 1 problems,
2 when the check itself cannot run (no contracts directory, unknown REF).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from functions.core.compat import check_bump, compare
from functions.core.contracts import (
    VERSION_KEY,
    ContractLoadError,
    ContractRegistry,
    Schema,
    find_contracts_dir,
    read_schema,
)

STATUSES = ("experimental", "stable", "deprecated")
EXPECTED = "_expected.json"


class CheckAborted(Exception):
    """The check cannot run at all (as opposed to finding problems)."""


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    schemas: int = 0
    golden: int = 0
    negative: int = 0
    openapi: int = 0
    compared: int = 0

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def summary(self) -> str:
        counted = (
            f"{self.schemas} schemas, {self.golden} golden and {self.negative} negative fixtures, "
            f"{self.openapi} OpenAPI documents"
        )
        if self.compared:
            counted += f", {self.compared} changed schemas compared"
        verdict = f"{len(self.problems)} problem(s)" if self.problems else "ok"
        return f"contracts check: {counted}: {verdict}"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contracts = subparsers.add_parser("contracts", help="JSON Schema contracts")
    actions = contracts.add_subparsers(dest="contracts_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate schemas, fixtures, OpenAPI refs and version bumps (exit 1 on problems)"
    )
    check.add_argument(
        "--base", metavar="REF", help="git ref to compare changed schemas with, e.g. origin/main"
    )
    check.add_argument(
        "--root", type=Path, help="repository root holding contracts/ (default: found from cwd)"
    )
    check.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    root: Path | None = args.root
    if root is None:
        try:
            root = find_contracts_dir(Path.cwd()).parent
        except ContractLoadError as exc:
            print(f"observatory contracts check: {exc}", file=sys.stderr)
            return 2
    return run_check(args.base, root)


def run_check(base: str | None, root: Path, out: TextIO | None = None) -> int:
    """Run every check on ``root/contracts``; print problems and a summary to ``out`` (stdout)."""
    out = out or sys.stdout
    findings = Findings()
    try:
        if not (root / "contracts" / "schemas").is_dir():
            raise CheckAborted(f"{root / 'contracts' / 'schemas'}: no such directory")
        if base is not None:
            _verify_ref(root, base)
        schemas = _check_schemas(root, findings)
        registry = ContractRegistry(root / "contracts", schemas)
        _check_versions(root, schemas, findings)
        _check_fixtures(root, registry, findings)
        _check_openapi(root, registry, findings)
        if base is not None:
            _check_bumps(root, base, findings)
    except CheckAborted as exc:
        print(f"observatory contracts check: {exc}", file=sys.stderr)
        return 2
    for line in sorted(findings.problems):
        print(line, file=out)
    print(findings.summary(), file=out)
    return 1 if findings.problems else 0


# -- schemas and the version registry ------------------------------------------------------------------


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _check_schemas(root: Path, findings: Findings) -> list[Schema]:
    schema_dir = root / "contracts" / "schemas"
    loaded: dict[str, Schema] = {}
    for path in sorted(schema_dir.rglob("*.json")):
        try:
            schema = read_schema(schema_dir, path)
        except ContractLoadError as exc:
            findings.add(_rel(root, path), exc.reason)
            continue
        if schema.id in loaded:
            findings.add(
                _rel(root, path), f"$id {schema.id} is also used by {_rel(root, loaded[schema.id].path)}"
            )
            continue
        loaded[schema.id] = schema
    findings.schemas = len(loaded)
    return list(loaded.values())


def _read_json(root: Path, path: Path, findings: Findings) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        findings.add(_rel(root, path), f"not readable JSON: {exc}")
        return None


def _check_versions(root: Path, schemas: list[Schema], findings: Findings) -> None:
    contracts = root / "contracts"
    where = "contracts/VERSIONS.json"
    registry = _read_json(root, contracts / "VERSIONS.json", findings)
    if not isinstance(registry, dict):
        if registry is not None:
            findings.add(where, "must be a JSON object")
        return
    actual = {s.path.relative_to(contracts).as_posix(): s.version for s in schemas}
    for api in sorted((contracts / "openapi").glob("*.json")):
        document = _read_json(root, api, findings)
        if isinstance(document, dict):
            actual[api.relative_to(contracts).as_posix()] = str(document.get("info", {}).get("version"))
    listed: dict[str, Any] = {**registry.get("schemas", {}), **registry.get("openapi", {})}
    for name, version in sorted(actual.items()):
        entry = listed.get(name)
        if not isinstance(entry, dict):
            findings.add(where, f"{name} is not listed (version {version})")
            continue
        if entry.get("version") != version:
            findings.add(where, f"{name} is listed as {entry.get('version')!r} but the file says {version}")
        if entry.get("status") not in STATUSES:
            findings.add(
                where, f"{name} has status {entry.get('status')!r}, not one of {', '.join(STATUSES)}"
            )
    for name in sorted(set(listed) - set(actual)):
        findings.add(where, f"{name} is listed but no such contract exists")


# -- fixtures --------------------------------------------------------------------------------------------


def _fixture_dirs(base: Path) -> Iterator[tuple[str, Path]]:
    """(schema name, directory) for every directory under ``base`` that holds fixtures."""
    if not base.is_dir():
        return
    for directory in sorted({p.parent for p in base.rglob("*.json")}):
        yield directory.relative_to(base).as_posix(), directory


def _check_fixtures(root: Path, registry: ContractRegistry, findings: Findings) -> None:
    fixtures = root / "contracts" / "fixtures"
    names = set(registry.names())
    with_golden: set[str] = set()
    with_negative: set[str] = set()
    for name, directory in _fixture_dirs(fixtures / "golden"):
        if name not in names:
            findings.add(_rel(root, directory), f"no schema named {name!r}")
            continue
        for path in sorted(directory.glob("*.json")):
            findings.golden += 1
            with_golden.add(name)
            instance = _read_json(root, path, findings)
            for v in registry.validate(name, instance):
                findings.add(
                    _rel(root, path),
                    f"golden fixture is invalid at {v.pointer or '/'} ({v.keyword}): {v.message}",
                )
    for name, directory in _fixture_dirs(fixtures / "negative"):
        if name not in names:
            findings.add(_rel(root, directory), f"no schema named {name!r}")
            continue
        with_negative.add(name)
        _check_negatives(root, registry, name, directory, findings)
    for name in sorted(names - with_golden):
        findings.add(f"contracts/fixtures/golden/{name}", "no golden fixture for this schema")
    for name in sorted(names - with_negative):
        findings.add(f"contracts/fixtures/negative/{name}", "no negative fixture for this schema")


def _expectations(entry: Any) -> set[tuple[str, str]] | None:
    entries = entry if isinstance(entry, list) else [entry]
    found = set()
    for item in entries:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("pointer"), str)
            and isinstance(item.get("keyword"), str)
        ):
            return None
        found.add((item["pointer"], item["keyword"]))
    return found or None


def _check_negatives(
    root: Path, registry: ContractRegistry, name: str, directory: Path, findings: Findings
) -> None:
    index_path = directory / EXPECTED
    index = _read_json(root, index_path, findings) if index_path.exists() else {}
    if not isinstance(index, dict):
        findings.add(_rel(root, index_path), "must map fixture file names to {pointer, keyword}")
        return
    files = sorted(p for p in directory.glob("*.json") if p.name != EXPECTED)
    for missing in sorted(set(index) - {p.name for p in files}):
        findings.add(_rel(root, index_path), f"lists {missing}, which does not exist")
    for path in files:
        findings.negative += 1
        expected = _expectations(index.get(path.name))
        if expected is None:
            findings.add(
                _rel(root, path), f"no expected failure recorded in {EXPECTED} ({{pointer, keyword}})"
            )
            continue
        violations = registry.validate(name, _read_json(root, path, findings))
        got = {(v.pointer, v.keyword) for v in violations}
        if not violations:
            findings.add(_rel(root, path), f"negative fixture is valid against {name}")
        elif got != expected:
            findings.add(
                _rel(root, path),
                f"fails for another reason: expected {_describe(expected)}, got {_describe(got)}",
            )


def _describe(pairs: set[tuple[str, str]]) -> str:
    return ", ".join(f"{pointer or '/'} ({keyword})" for pointer, keyword in sorted(pairs))


# -- OpenAPI ---------------------------------------------------------------------------------------------


def _refs(node: Any, at: str = "") -> Iterator[tuple[str, str]]:
    """(location, $ref value) for every $ref in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield at, value
            else:
                yield from _refs(value, f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{at}/{index}")


def _resolve_pointer(document: Any, fragment: str) -> bool:
    if fragment == "":
        return True
    if not fragment.startswith("/"):
        return False
    node = document
    for token in fragment[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def _check_openapi(root: Path, registry: ContractRegistry, findings: Findings) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    for path in sorted((root / "contracts" / "openapi").glob("*.json")):
        document = _read_json(root, path, findings)
        if document is None:
            continue
        findings.openapi += 1
        where = _rel(root, path)
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
            findings.add(where, "not an OpenAPI 3.1 document")
            continue
        for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                findings.add(f"{where}#/components/schemas/{name}", f"not a valid schema: {exc.message}")
        for at, ref in _refs(document):
            target, _, fragment = ref.partition("#")
            if target == "":
                resolved = _resolve_pointer(document, fragment)
            else:
                try:
                    resolved = _resolve_pointer(registry.schema(target), fragment)
                except LookupError:
                    resolved = False
            if not resolved:
                findings.add(f"{where}#{at}", f"$ref {ref} does not resolve")


# -- version bumps against a git base --------------------------------------------------------------------


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise CheckAborted(f"cannot run git: {exc}") from exc


def _verify_ref(root: Path, base: str) -> None:
    result = _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no such commit"
        raise CheckAborted(f"unknown git ref {base!r} ({reason})")


def _version_of(schema: Any) -> str:
    if isinstance(schema, dict) and isinstance(schema.get(VERSION_KEY), str):
        return str(schema[VERSION_KEY])
    identifier = schema.get("$id", "") if isinstance(schema, dict) else ""
    return str(identifier).rsplit("/", 1)[-1] or "?"


def _check_bumps(root: Path, base: str, findings: Findings) -> None:
    listed = _git(root, "diff", "--name-only", "--no-renames", "--relative", base, "--", "contracts/schemas")
    if listed.returncode != 0:
        raise CheckAborted(f"git diff against {base!r} failed: {listed.stderr.strip()}")
    for rel in sorted(line for line in listed.stdout.splitlines() if line.endswith(".json")):
        old_text = _git(root, "show", f"{base}:./{rel}")
        if old_text.returncode != 0:
            continue  # new since the base: nothing to be compatible with
        if not (root / rel).exists():
            findings.add(
                rel, f"schema removed since {base} (breaking; keep it with status deprecated instead)"
            )
            continue
        try:
            old = json.loads(old_text.stdout)
        except ValueError:
            continue  # the base itself was broken; the current file is checked above
        new = _read_json(root, root / rel, findings)
        if not isinstance(old, dict) or not isinstance(new, dict):
            continue
        findings.compared += 1
        for problem in check_bump(_version_of(old), _version_of(new), compare(old, new)):
            findings.problems.append(f"{rel}{problem}")
