"""``observatory contracts check`` end to end, on the real contracts/ and on throwaway git repositories."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui.cli import main
from tui.contracts_cmd import run_check

REPO = Path(__file__).resolve().parents[2]
SCHEMA = "contracts/schemas/things/widget.json"
ID = "https://observatory.dev/schemas/things/widget/"


def widget(
    version: str, properties: dict[str, Any] | None = None, required: list[str] | None = None
) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ID + version,
        "x-version": version,
        "type": "object",
        "required": required if required is not None else ["name"],
        "additionalProperties": False,
        "properties": properties
        if properties is not None
        else {"name": {"type": "string"}, "size": {"type": "integer", "minimum": 0}},
    }


class Repo:
    """A git repository holding a minimal, consistent contracts/ tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "test",
            "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "test",
            "GIT_COMMITTER_EMAIL": "test@example.invalid",
        }
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout

    def write(self, rel: str, document: Any) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n")

    def put_widget(self, schema: dict[str, Any]) -> None:
        self.write(SCHEMA, schema)
        versions = {
            "schemas": {"schemas/things/widget.json": {"version": schema["x-version"], "status": "stable"}}
        }
        self.write("contracts/VERSIONS.json", versions)

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path)
    repo.put_widget(widget("1.2.0"))
    repo.write("contracts/fixtures/golden/things/widget/small.json", {"name": "w", "size": 1})
    repo.write("contracts/fixtures/negative/things/widget/nameless.json", {})
    repo.write(
        "contracts/fixtures/negative/things/widget/_expected.json",
        {"nameless.json": {"pointer": "/name", "keyword": "required"}},
    )
    repo.commit("widget 1.2.0")
    return repo


Run = Callable[..., tuple[int, list[str], str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(base: str | None, root: Path) -> tuple[int, list[str], str]:
        code = run_check(base, root)
        captured = capsys.readouterr()
        return code, captured.out.splitlines(), captured.err

    return run


def test_the_repository_contracts_pass(run: Run) -> None:
    code, lines, _ = run(None, REPO)
    assert code == 0, lines
    assert lines[-1].startswith("contracts check: 15 schemas")
    assert lines[-1].endswith(": ok")


def test_unchanged_repo_against_head_passes(repo: Repo, run: Run) -> None:
    code, lines, _ = run("HEAD", repo.root)
    assert (code, lines) == (
        0,
        ["contracts check: 1 schemas, 1 golden and 1 negative fixtures, 0 OpenAPI documents: ok"],
    )


def test_breaking_change_without_major_bump_fails(repo: Repo, run: Run) -> None:
    repo.put_widget(widget("1.3.0", properties={"name": {"type": "string"}}))
    repo.write("contracts/fixtures/golden/things/widget/small.json", {"name": "w"})
    code, lines, _ = run("HEAD", repo.root)
    assert code == 1
    assert lines[:-1] == [
        f"{SCHEMA}#/properties/size: property-removed (breaking) without a major bump (1.2.0 -> 1.3.0)"
    ]
    assert "1 changed schemas compared: 1 problem(s)" in lines[-1]


def test_breaking_change_with_major_bump_passes(repo: Repo, run: Run) -> None:
    repo.put_widget(widget("2.0.0", properties={"name": {"type": "string"}}))
    repo.write("contracts/fixtures/golden/things/widget/small.json", {"name": "w"})
    repo.commit("widget 2.0.0")
    code, lines, _ = run("HEAD~1", repo.root)
    assert code == 0, lines


def test_non_breaking_change_without_minor_bump_fails(repo: Repo, run: Run) -> None:
    properties = {
        "name": {"type": "string"},
        "size": {"type": "integer", "minimum": 0},
        "colour": {"type": "string"},
    }
    repo.put_widget(widget("1.2.0", properties=properties))
    code, lines, _ = run("HEAD", repo.root)
    assert code == 1
    assert lines[:-1] == [
        f"{SCHEMA}#/properties/colour: property-added-optional (non-breaking) without a minor bump (1.2.0 -> 1.2.0)"
    ]
    repo.put_widget(widget("1.3.0", properties=properties))
    assert run("HEAD", repo.root)[0] == 0


def test_version_going_down_fails(repo: Repo, run: Run) -> None:
    repo.put_widget(widget("1.1.0"))
    code, lines, _ = run("HEAD", repo.root)
    assert code == 1
    assert lines[0] == f"{SCHEMA}#: version went down (1.2.0 -> 1.1.0)"


def test_removed_schema_is_reported(repo: Repo, run: Run) -> None:
    (repo.root / SCHEMA).unlink()
    repo.write("contracts/VERSIONS.json", {"schemas": {}})
    code, lines, _ = run("HEAD", repo.root)
    assert code == 1
    assert any(line.startswith(f"{SCHEMA}: schema removed since HEAD (breaking") for line in lines)


def test_unknown_ref_is_one_line_and_exit_2(repo: Repo, run: Run) -> None:
    code, lines, err = run("no-such-branch", repo.root)
    assert code == 2
    assert lines == []
    assert err.count("\n") == 1
    assert err.startswith("observatory contracts check: unknown git ref 'no-such-branch'")


def test_missing_contracts_dir_is_exit_2(tmp_path: Path, run: Run) -> None:
    code, _, err = run(None, tmp_path)
    assert code == 2
    assert "no such directory" in err


def test_fixture_and_registry_problems_are_each_reported(repo: Repo, run: Run) -> None:
    repo.write("contracts/fixtures/golden/things/widget/bad.json", {"name": "w", "size": -1})
    repo.write("contracts/fixtures/negative/things/widget/valid.json", {"name": "fine"})
    repo.write("contracts/fixtures/negative/things/widget/wrong-reason.json", {"name": 5})
    repo.write(
        "contracts/fixtures/negative/things/widget/_expected.json",
        {
            "nameless.json": {"pointer": "/name", "keyword": "required"},
            "valid.json": {"pointer": "/name", "keyword": "type"},
            "wrong-reason.json": {"pointer": "/size", "keyword": "minimum"},
            "gone.json": {"pointer": "", "keyword": "type"},
        },
    )
    repo.write("contracts/fixtures/golden/things/gadget/x.json", {})
    repo.write(
        "contracts/VERSIONS.json",
        {
            "schemas": {
                "schemas/things/widget.json": {"version": "1.1.0", "status": "solid"},
                "schemas/x.json": {},
            }
        },
    )
    code, lines, _ = run(None, repo.root)
    assert code == 1
    base = "contracts/fixtures"
    assert lines[:-1] == [
        "contracts/VERSIONS.json: schemas/things/widget.json has status 'solid', not one of experimental, stable, deprecated",
        "contracts/VERSIONS.json: schemas/things/widget.json is listed as '1.1.0' but the file says 1.2.0",
        "contracts/VERSIONS.json: schemas/x.json is listed but no such contract exists",
        f"{base}/golden/things/gadget: no schema named 'things/gadget'",
        f"{base}/golden/things/widget/bad.json: golden fixture is invalid at /size (minimum): -1 is less than the minimum of 0",
        f"{base}/negative/things/widget/_expected.json: lists gone.json, which does not exist",
        f"{base}/negative/things/widget/valid.json: negative fixture is valid against things/widget",
        f"{base}/negative/things/widget/wrong-reason.json: fails for another reason: expected /size (minimum), got /name (type)",
    ]
    assert lines[-1].endswith("8 problem(s)")


def test_schema_and_openapi_problems_are_reported(repo: Repo, run: Run) -> None:
    repo.write(
        "contracts/schemas/things/broken.json", {"$id": "https://observatory.dev/schemas/things/broken/1.0.0"}
    )
    repo.write(
        "contracts/openapi/api.json",
        {
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1.0.0"},
            "paths": {
                "/w": {
                    "get": {
                        "responses": {
                            "200": {"$ref": "#/components/responses/Missing"},
                            "201": {"content": {"application/json": {"schema": {"$ref": ID + "1.2.0"}}}},
                            "202": {"content": {"application/json": {"schema": {"$ref": ID + "1.0.0"}}}},
                            "203": {
                                "content": {"application/json": {"schema": {"$ref": ID + "1.2.0#/nope"}}}
                            },
                        }
                    }
                }
            },
        },
    )
    code, lines, _ = run(None, repo.root)
    assert code == 1
    responses = "contracts/openapi/api.json#/paths/~1w/get/responses"
    assert lines[:-1] == [
        "contracts/VERSIONS.json: openapi/api.json is not listed (version 1.0.0)",
        f"{responses}/200: $ref #/components/responses/Missing does not resolve",
        f"{responses}/202/content/application~1json/schema: $ref {ID}1.0.0 does not resolve",
        f"{responses}/203/content/application~1json/schema: $ref {ID}1.2.0#/nope does not resolve",
        "contracts/schemas/things/broken.json: x-version None differs from the $id version 1.0.0",
    ]


def test_cli_wiring(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "check", "--root", str(repo.root), "--base", "HEAD"]) == 0
    assert capsys.readouterr().out.endswith(": ok\n")
    repo.put_widget(widget("1.2.0", required=["name", "size"]))
    assert main(["contracts", "check", "--root", str(repo.root), "--base", "HEAD"]) == 1
    out = capsys.readouterr().out
    assert (
        f"{SCHEMA}#/properties/size: required-added (breaking) without a major bump (1.2.0 -> 1.2.0)" in out
    )
