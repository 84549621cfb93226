"""`observatory validate [--crds DIR] [PATHS...]`: offline manifest validation, one line per problem."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui.validate.catalog import KUBERNETES_VERSION, Catalog, CatalogError
from tui.validate.runner import validate

DEFAULT_PATHS = ("knative", "platform")


def repo_root(start: Path | None = None) -> Path:
    """The nearest directory upwards holding pyproject.toml and knative/ (else this package's checkout)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "knative").is_dir():
            return candidate
    return Path(__file__).resolve().parents[2]


def default_crds_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("OBSERVATORY_CRDS_DIR"):
        return Path(env["OBSERVATORY_CRDS_DIR"])
    shared = root.parent / "shared" / "crds"
    return shared if shared.is_dir() else root / ".observatory" / "crds"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="validate knative/ and platform/ manifests offline (schemas, admission rules, references)",
        description="Offline validation: CRD and core schemas (unknown fields are errors), Knative and "
        "eventing-rabbitmq admission rules, and cross-object references. Exit 1 on any error.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, help="files or directories (default: knative/ platform/)"
    )
    parser.add_argument(
        "--crds",
        type=Path,
        default=None,
        help="CRD directory (default: $OBSERVATORY_CRDS_DIR, ../shared/crds, .observatory/crds)",
    )
    parser.add_argument(
        "--k8s-version",
        default=KUBERNETES_VERSION,
        help=f"Kubernetes schemas for core kinds (default {KUBERNETES_VERSION})",
    )
    parser.add_argument("--quiet", action="store_true", help="print problems only, no summary")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    root = repo_root()
    paths: list[Path] = list(args.paths) or [root / p for p in DEFAULT_PATHS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"observatory validate: no such path: {', '.join(missing)}", file=sys.stderr)
        return 2
    crds = args.crds or default_crds_dir(root)
    try:
        catalog = Catalog.from_dir(crds, args.k8s_version)
    except CatalogError as exc:
        print(f"observatory validate: {exc}", file=sys.stderr)
        return 2
    report = validate(paths, catalog, Path.cwd())
    for finding in report.findings:
        print(finding.format())
    if not args.quiet:
        warnings = len(report.findings) - len(report.errors)
        verdict = "FAILED" if report.errors else "OK"
        print(
            f"validate: {verdict}: {report.objects} objects in {report.files} YAML files, "
            f"{len(report.errors)} errors, {warnings} warnings (CRDs from {crds})",
            file=sys.stderr,
        )
    return 1 if report.errors else 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m tui.validate`) until the lead wires `observatory validate`."""
    parser = argparse.ArgumentParser(prog="observatory")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result
