"""Prometheus and Alertmanager beside the local runtime, with the committed rules, scraping the runtime's instances.

When the binaries are installed (Debian: ``prometheus``, ``prometheus-alertmanager``) and
``KNLOCAL_OBSERVABILITY`` is not ``off``, the runtime runs both as child processes, each in its own process
group, restarted with a backoff when they exit. Their configuration is generated into ``<state>/prometheus``
and ``<state>/alertmanager`` from ``platform/observability``: the same ``alert-rules.yml`` (by absolute path),
the same ``alertmanager.yml``, and ``prometheus-local.yml`` with its loopback targets moved to the ports
actually in use (Prometheus 9090, Alertmanager 9093, the runtime's admin port 8091 in the committed file) and
its file_sd entry pointed at the runtime's ``targets.json``.

What is not there is said once in the log and changes nothing else: a missing binary (with the install
command), a port already taken, an external scrape target that does not answer at start-up (RabbitMQ's
``rabbitmq_prometheus`` plugin is often not enabled; scraping it anyway would fire ServiceDown for a
RabbitMQ that is fine). Without Alertmanager, Prometheus runs without an ``alerting`` section.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from knlocal.observability.config import (
    LocalEndpoints,
    ObservabilityConfigError,
    external_targets,
    prometheus_config,
    render_yaml,
)
from knlocal.serving.supervisor import free_port

log = logging.getLogger("knlocal.observability")

INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"
PROMETHEUS_BINARIES = ("prometheus",)
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, then upstream's
_BACKOFF_FIRST, _BACKOFF_MAX, _STABLE_AFTER = 1.0, 60.0, 60.0
_STOP_GRACE = 10.0


@dataclass
class _Child:
    name: str
    binary: str | None = None
    port: int | None = None
    note: str | None = None  # why it does not run, when it does not
    state: str = "disabled"  # disabled | starting | ready | exited | stopped
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    log_path: Path | None = None
    argv: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port is not None else None

    def status(self) -> dict[str, Any]:
        return {
            "url": self.url if self.state != "disabled" else None,
            "state": self.state,
            "pid": self.process.pid if self.process is not None and self.process.returncode is None else None,
            "restarts": self.restarts,
            "log": str(self.log_path) if self.log_path is not None else None,
            "note": self.note,
        }


class Observability:
    """Plan (binaries, ports) before the instances start, so the read model learns Alertmanager's URL; start
    once the admin port is bound, since Prometheus scrapes it."""

    def __init__(
        self,
        *,
        enabled: bool,
        prometheus_port: int,
        alertmanager_port: int,
        source_dir: Path,
        state_dir: Path,
        logs_dir: Path,
        targets_file: Path,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        self._enabled = enabled
        self._wanted = {"prometheus": prometheus_port, "alertmanager": alertmanager_port}
        self._source_dir = source_dir
        self._state_dir = state_dir
        self._logs_dir = logs_dir
        self._targets_file = targets_file
        self._which = which
        self.prometheus = _Child("prometheus")
        self.alertmanager = _Child("alertmanager")
        self._stopping = False

    @property
    def prometheus_file(self) -> Path:
        return self._state_dir / "prometheus" / "prometheus.yml"

    @property
    def alertmanager_file(self) -> Path:
        return self._state_dir / "alertmanager" / "alertmanager.yml"

    @property
    def alertmanager_url(self) -> str | None:
        """Set once planned, if Alertmanager will run."""
        return self.alertmanager.url if self.alertmanager.note is None and self.alertmanager.binary else None

    def plan(self) -> None:
        """Find the binaries and claim the ports; every reason not to run something is logged once."""
        if not self._enabled:
            for child in (self.prometheus, self.alertmanager):
                child.note = "KNLOCAL_OBSERVABILITY=off"
            return
        for child, names in (
            (self.prometheus, PROMETHEUS_BINARIES),
            (self.alertmanager, ALERTMANAGER_BINARIES),
        ):
            child.binary = next((found for name in names if (found := self._which(name))), None)
            if child.binary is None:
                child.note = f"{' or '.join(names)} not found; install it with `{INSTALL_HINT}`"
                log.warning("%s is not running: %s", child.name, child.note)
                continue
            wanted = self._wanted[child.name]
            if wanted == 0:
                child.port = free_port()
            elif _port_taken(wanted):
                child.note = (
                    f"port {wanted} is in use (another {child.name}?); stop it or set "
                    f"KNLOCAL_{child.name.upper()}_PORT=0 for any free port"
                )
                log.warning("%s is not running: %s", child.name, child.note)
            else:
                child.port = wanted

    async def start(self, admin_port: int) -> None:
        """Write the configurations and start what was planned; never raises for a part that cannot run."""
        am = self.alertmanager
        if am.binary is not None and am.note is None and am.port is not None:
            try:
                self._write_alertmanager_config()
            except (OSError, yaml.YAMLError) as exc:
                am.note = f"cannot prepare its configuration: {exc}"
                log.warning("alertmanager is not running: %s", am.note)
            else:
                am.argv = [
                    am.binary,
                    f"--config.file={self.alertmanager_file}",
                    f"--storage.path={self._state_dir / 'alertmanager' / 'data'}",
                    f"--web.listen-address=127.0.0.1:{am.port}",
                    f"--web.external-url={am.url}",
                    "--cluster.listen-address=",  # no gossip port: one Alertmanager, and parallel runtimes do not clash
                ]
                self._launch(am)
        prom = self.prometheus
        if prom.binary is not None and prom.note is None and prom.port is not None:
            try:
                # Off the event loop: it probes external targets with a short TCP connect.
                await asyncio.to_thread(self._write_prometheus_config, prom.port, admin_port)
            except (OSError, yaml.YAMLError, ObservabilityConfigError) as exc:
                prom.note = f"cannot prepare its configuration: {exc}"
                log.warning("prometheus is not running: %s", prom.note)
                return
            prom.argv = [
                prom.binary,
                f"--config.file={self.prometheus_file}",
                f"--storage.tsdb.path={self._state_dir / 'prometheus' / 'data'}",
                "--storage.tsdb.retention.time=3d",  # a developer's machine, not a monitoring server
                f"--web.listen-address=127.0.0.1:{prom.port}",
                f"--web.external-url={prom.url}",
            ]
            self._launch(prom)

    async def stop(self) -> None:
        self._stopping = True
        children = [c for c in (self.prometheus, self.alertmanager) if c.task is not None]
        for child in children:
            assert child.task is not None
            child.task.cancel()
        await asyncio.gather(*(c.task for c in children if c.task is not None), return_exceptions=True)
        await asyncio.gather(*(_terminate(c) for c in children), return_exceptions=True)

    def status(self) -> dict[str, Any]:
        return {"prometheus": self.prometheus.status(), "alertmanager": self.alertmanager.status()}

    # -- internals -----------------------------------------------------------------------------------

    def _write_alertmanager_config(self) -> None:
        source = self._source_dir / "alertmanager" / "alertmanager.yml"
        text = source.read_text(encoding="utf-8")
        yaml.safe_load(text)  # a broken file is reported here, not as a crash loop
        _write(self.alertmanager_file, f"# Copied by knlocal from {source} at start-up.\n" + text)

    def _write_prometheus_config(self, prometheus_port: int, admin_port: int) -> None:
        source = self._source_dir / "prometheus" / "prometheus-local.yml"
        committed = yaml.safe_load(source.read_text(encoding="utf-8"))
        if not isinstance(committed, dict):
            raise ObservabilityConfigError(f"{source}: not a YAML mapping")
        unreachable = [t for t in external_targets(committed) if not _answers(t)]
        for target in unreachable:
            log.info(
                "not scraping %s: nothing answers there (RabbitMQ: rabbitmq-plugins enable rabbitmq_prometheus)",
                target,
            )
        endpoints = LocalEndpoints(
            prometheus_port=prometheus_port,
            alertmanager_port=self.alertmanager.port if self.alertmanager.argv else None,
            admin_port=admin_port,
            targets_file=self._targets_file,
        )
        doc = prometheus_config(committed, source.parent, endpoints, unreachable=unreachable)
        _write(self.prometheus_file, render_yaml(doc, source))

    def _launch(self, child: _Child) -> None:
        child.log_path = self._logs_dir / f"{child.name}.log"
        child.state = "starting"
        child.task = asyncio.create_task(self._supervise(child), name=f"observability:{child.name}")

    async def _supervise(self, child: _Child) -> None:
        crashes = 0
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._spawn(child)
            except OSError as exc:
                child.state, child.note = "exited", f"cannot start: {exc}"
                log.warning("%s: %s", child.name, child.note)
                return
            assert child.process is not None
            waiter = asyncio.create_task(self._announce_ready(child))
            code = await child.process.wait()
            waiter.cancel()
            if self._stopping:
                return
            child.state = "exited"
            crashes = 1 if time.monotonic() - started >= _STABLE_AFTER else crashes + 1
            delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (crashes - 1))
            log.warning(
                "%s exited with code %s (%s); restarting in %gs",
                child.name,
                code,
                _last_line(child.log_path),
                delay,
            )
            await asyncio.sleep(delay)
            child.restarts += 1
            child.state = "starting"

    async def _spawn(self, child: _Child) -> None:
        assert child.log_path is not None
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with child.log_path.open("ab") as out:
            out.write(
                f"--- knlocal: starting {child.name} at {time.ctime()}: {' '.join(child.argv)}\n".encode()
            )
            out.flush()
            child.process = await asyncio.create_subprocess_exec(
                *child.argv,
                cwd=self._state_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )

    async def _announce_ready(self, child: _Child) -> None:
        assert child.url is not None
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(child.url + "/-/ready")).status_code == 200:
                        child.state = "ready"
                        log.info("%s ready on %s", child.name, child.url)
                        return
                await asyncio.sleep(0.2)


async def _terminate(child: _Child) -> None:
    process = child.process
    if process is None or process.returncode is not None:
        child.state = "stopped" if child.state != "disabled" else child.state
        return
    _killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), _STOP_GRACE)
    except TimeoutError:
        _killpg(process.pid, signal.SIGKILL)
        await process.wait()
    child.state = "stopped"


def _killpg(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _answers(target: str, timeout_s: float = 0.5) -> bool:
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _last_line(path: Path | None) -> str:
    if path is None:
        return "no log"
    with contextlib.suppress(OSError):
        lines = path.read_text(errors="replace").strip().splitlines()
        if lines:
            return lines[-1][-300:]
    return "no log"
