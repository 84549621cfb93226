"""Benchmark variants of ``knative/``: a copy with some files left out, never a second description.

The ingest scenario measures the gateway -> ingress -> RabbitMQ path alone, so it runs the manifests
without the Triggers (nothing consumes while it publishes, as in the raw pika comparison).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml

from tui.bench.runtime import repo_root

__all__ = ["discard", "without"]


def without(prefixes: tuple[str, ...], source: Path | None = None) -> Path:
    """A temporary copy of ``knative/`` minus files whose relative path starts with one of ``prefixes``.

    Returns the copy's ``knative`` directory; remove its parent when done (``discard``).
    """
    root = repo_root()
    src = source or root / "knative"
    top = Path(tempfile.mkdtemp(prefix="obs_bench_knative_"))
    # The runtime takes the knative directory's parent as the repository root (FUNCTION_SOURCE is
    # relative to it), so the copy gets siblings that point back at the real tree.
    for sibling in ("functions", "contracts"):
        (top / sibling).symlink_to(root / sibling, target_is_directory=True)
    dst = top / "knative"
    for path in src.rglob("*.yaml"):
        rel = path.relative_to(src).as_posix()
        if rel.startswith(prefixes):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dst / rel)
    kustomization = dst / "kustomization.yaml"
    if kustomization.exists():
        doc = yaml.safe_load(kustomization.read_text(encoding="utf-8")) or {}
        doc["resources"] = [r for r in doc.get("resources") or [] if not str(r).startswith(prefixes)]
        kustomization.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return dst


def discard(knative_dir: Path) -> None:
    shutil.rmtree(knative_dir.parent, ignore_errors=True)
