"""Every shell entry point is shellcheck-clean (setup installs shellcheck)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = sorted([*ROOT.glob("scripts/*.sh"), ROOT / ".ci" / "run"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_shellcheck_clean(script: Path) -> None:
    result = subprocess.run(["shellcheck", "-x", str(script)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cluster_up_dry_run_prints_json_progress() -> None:
    import json

    result = subprocess.run(
        [str(ROOT / "scripts" / "cluster-up.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines, "no progress lines"
    assert all({"step", "status", "message"} <= set(line) for line in lines)
    assert {line["status"] for line in lines} <= {"start", "ok", "error", "skip"}
