"""The running runtime as other processes see it: ``<state>/run/knlocal.json``.

``python -m knlocal`` writes the file once every port is bound and removes it on a clean exit, so
``observatory down`` and ``observatory status`` can find the process and its admin port. A file left
behind by a killed runtime is recognised (its pid is gone, or is no longer a knlocal process) and
treated as "not running".
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "RuntimeState",
    "StateFileError",
    "pid_alive",
    "read_state",
    "remove_state",
    "state_path",
    "write_state",
]

_FILE = "knlocal.json"


class StateFileError(Exception):
    """The state file exists but cannot be read as one."""


@dataclass(frozen=True)
class RuntimeState:
    pid: int
    admin_url: str
    ingress_url: str
    started_at: float
    services: dict[str, str] = field(default_factory=dict)  # service -> router URL
    log_dir: str = ""


def state_path(state_dir: Path) -> Path:
    return state_dir / "run" / _FILE


def write_state(state_dir: Path, state: RuntimeState) -> Path:
    path = state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_state(state_dir: Path) -> RuntimeState | None:
    """The state of a live runtime, or None when none runs (a stale file is ignored, not deleted)."""
    path = state_path(state_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        state = RuntimeState(**raw)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise StateFileError(f"{path}: not a knlocal state file ({exc})") from exc
    return state if pid_alive(state.pid) else None


def remove_state(state_dir: Path, pid: int) -> None:
    """Remove the file if it still describes process ``pid`` (a newer runtime may have replaced it)."""
    path = state_path(state_dir)
    with contextlib.suppress(FileNotFoundError, ValueError, OSError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and (where /proc tells) is a knlocal runtime rather than a recycled pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        with contextlib.suppress(OSError):
            return b"knlocal" in cmdline.read_bytes()
    return True
