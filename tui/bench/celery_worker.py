"""A Celery worker for the baseline, as a subprocess of the bench (prefork, concurrency 2), and a sender."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tui.bench.lifecycle import Supervised
from tui.bench.runtime import repo_root

__all__ = ["CeleryWorker"]


class CeleryWorker(Supervised):
    def __init__(self, rabbitmq_url: str, database_url: str, queue: str, concurrency: int = 2) -> None:
        self.env = {
            **os.environ,
            "RABBITMQ_URL": rabbitmq_url,
            "OBS_BENCH_CELERY_DATABASE_URL": database_url,
            "OBS_BENCH_CELERY_QUEUE": queue,
        }
        self.queue = queue
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="obs_bench_celery_", suffix=".log")[1])
        self._app: Any = None

    def start(self, timeout_s: float = 60.0) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tui.bench.celery_app", "worker", "--pool", "prefork",
                 "--concurrency", str(self.concurrency), "-Q", self.queue, "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "--loglevel", "INFO"],
                cwd=repo_root(), env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}: {self._tail()}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready after {timeout_s:.0f}s: {self._tail()}")

    def _tail(self) -> str:
        return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-6:])

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # warm shutdown: finish the tasks in hand
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.process = None
        if self._app is not None:
            with contextlib.suppress(Exception):
                self._app.close()
        with contextlib.suppress(OSError):
            self.log.unlink()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def sender(self) -> Any:
        """The Celery app configured like the worker's, for ``send_task`` from this process."""
        if self._app is None:
            saved = {k: os.environ.get(k) for k in ("RABBITMQ_URL", "OBS_BENCH_CELERY_QUEUE")}
            os.environ.update({k: self.env[k] for k in saved})
            try:
                import importlib

                module = importlib.import_module("tui.bench.celery_app")
                module = importlib.reload(module)  # the queue and broker are read at import
                self._app = module.app
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        return self._app
