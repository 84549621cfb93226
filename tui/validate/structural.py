"""Schema validation of one manifest: every error jsonschema finds, not just the first."""

from __future__ import annotations

from typing import Any

import jsonschema
from referencing import Registry

from tui.validate.model import Finding, Manifest, Severity, join_path

_MAX_MESSAGE = 240


def check_schema(manifest: Manifest, schema: dict[str, Any] | None, registry: Registry[Any]) -> list[Finding]:
    if schema is None:
        return [
            Finding.at(
                manifest,
                "",
                f"no schema for {manifest.api_version} {manifest.kind} (not a core kind, no CRD in --crds); "
                "add its CRD with scripts/fetch-crds.sh",
                Severity.WARNING,
            )
        ]
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    findings = []
    for error in sorted(validator.iter_errors(dict(manifest.obj)), key=lambda e: list(map(str, e.path))):
        message = error.message
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        findings.append(Finding.at(manifest, join_path(list(error.absolute_path)), message))
    return findings
