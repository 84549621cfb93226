"""Reading manifests (I/O): YAML files under the given paths, split into Kubernetes objects and the rest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tui.validate.model import Finding, Manifest

SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".observatory", ".mypy_cache", ".ruff_cache"}
# Groups whose documents look like Kubernetes objects but are read by tools, not an API server.
TOOL_GROUPS = {"kind.x-k8s.io"}
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
# libyaml's loader when PyYAML was built with it: same results, several times faster.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_all(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=SAFE_LOADER))


@dataclass
class Loaded:
    manifests: list[Manifest] = field(default_factory=list)
    kustomizations: list[tuple[Path, Mapping[str, Any]]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files: int = 0


def is_k8s_object(doc: Any) -> bool:
    """A mapping with string apiVersion and kind (Grafana provisioning has an integer apiVersion)."""
    return (
        isinstance(doc, Mapping)
        and isinstance(doc.get("apiVersion"), str)
        and isinstance(doc.get("kind"), str)
    )


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
            continue
        for candidate in sorted(path.rglob("*")):
            if (
                candidate.suffix in (".yaml", ".yml")
                and candidate.is_file()
                and not SKIP_DIRS.intersection(candidate.relative_to(path).parts)
            ):
                found.append(candidate)
    return found


def display(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def load(paths: Sequence[Path], base: Path) -> Loaded:
    loaded = Loaded()
    for path in yaml_files(paths):
        loaded.files += 1
        name = display(path, base)
        try:
            docs = load_all(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else "."
            problem = getattr(exc, "problem", None) or str(exc)
            loaded.findings.append(Finding(name, "YAML", path.name, where, f"not valid YAML: {problem}"))
            continue
        for doc in docs:
            if not is_k8s_object(doc):
                continue
            group = str(doc["apiVersion"]).rpartition("/")[0]
            if group in TOOL_GROUPS:
                continue
            if group == KUSTOMIZE_GROUP:
                loaded.kustomizations.append((path, doc))
                continue
            loaded.manifests.append(Manifest(name, doc))
    return loaded


def check_kustomization(path: Path, doc: Mapping[str, Any], base: Path) -> list[Finding]:
    """Every resource and generator file a kustomization names exists next to it."""
    findings = []
    name = display(path, base)
    here = path.parent
    entries: list[tuple[str, str]] = [("resources", str(r)) for r in doc.get("resources") or []]
    for generator in ("configMapGenerator", "secretGenerator"):
        for item in doc.get(generator) or []:
            for file_entry in item.get("files") or []:
                # `key=path` names the key; the file is after the '='.
                entries.append((generator, str(file_entry).rpartition("=")[2]))
    for section, entry in entries:
        if "://" in entry:
            continue
        if not (here / entry).exists():
            findings.append(Finding(name, "Kustomization", here.name, section, f"{entry} does not exist"))
    return findings
