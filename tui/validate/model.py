"""Value types shared by the validator's rule modules: a manifest document and a finding."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object read from one YAML document of one file."""

    file: str
    obj: Mapping[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", "<unnamed>"))

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns is not None else None

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.obj.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    @property
    def annotations(self) -> Mapping[str, Any]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, Mapping) else {}

    def is_a(self, group: str, kind: str) -> bool:
        return self.group == group and self.kind == kind


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: `file: Kind/name: path: message`."""

    file: str
    kind: str
    name: str
    path: str
    message: str
    severity: Severity = Severity.ERROR

    @classmethod
    def at(cls, manifest: Manifest, path: str, message: str, severity: Severity = Severity.ERROR) -> Finding:
        return cls(manifest.file, manifest.kind, manifest.name, path, message, severity)

    def format(self) -> str:
        prefix = "" if self.severity is Severity.ERROR else f"{self.severity}: "
        return f"{self.file}: {self.kind}/{self.name}: {self.path or '.'}: {prefix}{self.message}"


def join_path(parts: Iterable[str | int]) -> str:
    """Render a JSON path as `spec.containers[0].env`; keys with dots or slashes go in brackets."""
    out = ""
    for part in parts:
        if isinstance(part, int) or "." in part or "/" in part:
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
