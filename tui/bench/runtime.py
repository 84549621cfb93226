"""The local runtime as a benchmark subprocess: ``python -m knlocal`` on free ports, stopped however the run ends.

The runtime is driven only through its documented interface: environment settings in, the state file
(``<state>/run/knlocal.json``) and the admin JSON out. Stop is SIGTERM (the runtime drains and stops
its instances), then SIGKILL for the runtime and any instance it left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from tui.bench.isolation import Namespace
from tui.bench.lifecycle import Supervised

__all__ = ["RuntimeProcess", "RuntimeStartFailed", "repo_root", "service_entry"]


class RuntimeStartFailed(Exception):
    """The runtime exited or did not become ready in time; the message ends with its last log lines."""


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


class RuntimeProcess(Supervised):
    def __init__(
        self,
        ns: Namespace,
        *,
        settings: Mapping[str, str] | None = None,
        knative_dir: Path | None = None,
        ready_timeout_s: float = 90.0,
        module: str = "knlocal",
    ) -> None:
        self.module = module
        self.ns = ns
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"{ns.tag}_"))
        self.settings = dict(settings or {})
        self.knative_dir = knative_dir
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}
        self._known_pids: set[int] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.state_dir / "knlocal.out"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KNLOCAL_")}
        env.update(self.ns.env())
        env.update(
            {
                "KNLOCAL_STATE_DIR": str(self.state_dir),
                "KNLOCAL_INGRESS_PORT": "0",
                "KNLOCAL_ADMIN_PORT": "0",
                "KNLOCAL_PORT_OVERRIDES": "gateway=0,readmodel=0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.knative_dir is not None:
            env["KNLOCAL_KNATIVE_DIR"] = str(self.knative_dir)
        env.update(self.settings)
        with self.log_path.open("wb") as out:
            # A session of its own: the terminal's Ctrl-C reaches the bench, which then stops it in order.
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=repo_root(), env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + self.ready_timeout_s
        state_file = self.state_dir / "run" / "knlocal.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeStartFailed(f"knlocal exited with {self.process.returncode}: {self._tail()}")
            if state_file.exists():
                with contextlib.suppress(ValueError, OSError):
                    self.state = json.loads(state_file.read_text(encoding="utf-8"))
                if self.state and self._ready():
                    return
            time.sleep(0.2)
        raise RuntimeStartFailed(f"knlocal not ready after {self.ready_timeout_s:.0f}s: {self._tail()}")

    def _ready(self) -> bool:
        try:
            return httpx.get(self.admin_url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, grace_s: float = 40.0) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(Exception):
                self.snapshot()  # remember the instance pids in case they outlive the runtime
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for pid in self._known_pids:
            if _is_instance(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self.process = None
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    # -- what the runtime tells ------------------------------------------------------------------

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def admin_url(self) -> str:
        return str(self.state["admin_url"]).rstrip("/")

    @property
    def ingress_url(self) -> str:
        return str(self.state["ingress_url"])

    def service_url(self, name: str) -> str:
        return str(self.state["services"][name]).rstrip("/")

    def snapshot(self) -> dict[str, Any]:
        doc: dict[str, Any] = httpx.get(self.admin_url + "/", timeout=5).json()
        for service in doc.get("services", []):
            for instance in service.get("instances", []):
                self._known_pids.add(int(instance["pid"]))
        return doc

    def wait_until(self, predicate: Any, timeout_s: float, poll_s: float = 0.25) -> dict[str, Any] | None:
        """Poll the admin JSON until ``predicate(doc)`` holds; the document, or None on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                doc = self.snapshot()
                if predicate(doc):
                    return doc
            time.sleep(poll_s)
        return None


def service_entry(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    for entry in doc.get("services", []):
        if entry.get("name") == name:
            return dict(entry)
    raise KeyError(f"the runtime has no service {name!r}")


def _is_instance(pid: int) -> bool:
    try:
        return b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
