"""Function instances as processes: start, probe, route, restart, drain and stop them.

Each Service has a desired instance count (set by the autoscaler) and one reconcile task that moves the
actual set towards it. An instance is ``python -m uvicorn functions_framework.aio:app`` (or any command
the caller gives) in its own process group, with its output appended to ``<logs>/<service>-<n>.log``.
It joins its Service's router only once ``GET <readiness path>`` answers 200, and leaves it when it exits.

* Crashes: an instance that exits without being asked is replaced; consecutive crashes of a Service back
  off exponentially (0.5 s doubling to 30 s), reset once an instance has stayed up for 30 s.
* Scale-down: the victim (still-starting instances first, then the least busy) stops receiving requests,
  keeps its in-flight ones until they finish or the Service's ``timeoutSeconds`` passes, then gets SIGTERM
  and, after a grace period, SIGKILL — the order Kubernetes uses for a pod.
* Prometheus file-based discovery: every change of the ready set rewrites the targets file atomically.
  Entries carry ``service`` and ``instance``, not ``job``: the scrape job's name is the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from knlocal.serving.activator import Endpoint

__all__ = ["Instance", "InstanceSpec", "ServiceRouting", "Supervisor", "free_port"]

_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0
_STABLE_AFTER = 30.0  # an instance up this long clears its Service's crash count
_PROBE_INTERVAL = 0.1


def free_port() -> int:
    """A loopback port free right now (the instance binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceRouting(Protocol):
    """What the supervisor needs from a Service's router."""

    def add_endpoint(self, endpoint: Endpoint) -> None: ...

    def remove_endpoint(self, endpoint: Endpoint) -> None: ...

    async def drain(self, endpoint: Endpoint, wait_s: float) -> bool: ...


@dataclass(frozen=True)
class InstanceSpec:
    """How to run one instance of a Service; ``PORT`` is added per instance and ``{port}`` in ``command``."""

    service: str
    command: Sequence[str]
    env: Mapping[str, str]
    readiness_path: str = "/readyz"
    drain_timeout: float = 300.0
    metrics_path: str = "/metrics"


@dataclass(eq=False)
class Instance:
    service: str
    ordinal: int
    port: int
    process: asyncio.subprocess.Process
    log_path: Path
    state: str = "starting"  # starting | ready | draining | stopping | exited
    started_at: float = field(default_factory=time.monotonic)
    endpoint: Endpoint | None = None
    monitor: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"{self.service}-{self.ordinal}"

    @property
    def alive(self) -> bool:
        """Counts towards the Service's actual scale."""
        return self.state in ("starting", "ready")


@dataclass
class _ServiceState:
    spec: InstanceSpec
    router: ServiceRouting
    desired: int = 0
    instances: list[Instance] = field(default_factory=list)
    crashes: int = 0
    not_before: float = 0.0
    restarts: int = 0
    reserved: set[int] = field(default_factory=set)  # ordinals of instances being spawned
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(
        self,
        specs: Mapping[str, InstanceSpec],
        routers: Mapping[str, ServiceRouting],
        *,
        logs_dir: Path,
        targets_file: Path | None,
        cwd: Path,
        startup_timeout: float = 60.0,
        stop_grace: float = 10.0,
    ) -> None:
        self._services = {name: _ServiceState(spec, routers[name]) for name, spec in specs.items()}
        self._logs_dir = logs_dir
        self._targets_file = targets_file
        self._cwd = cwd
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace
        self._probe = httpx.AsyncClient(timeout=2.0)
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False

    # -- queries ---------------------------------------------------------------------------------

    def desired(self, service: str) -> int:
        return self._services[service].desired

    def instances(self, service: str) -> list[Instance]:
        return list(self._services[service].instances)

    def ready_count(self, service: str) -> int:
        return sum(1 for i in self._services[service].instances if i.state == "ready")

    def actual_count(self, service: str) -> int:
        return sum(1 for i in self._services[service].instances if i.alive)

    def restarts(self, service: str) -> int:
        return self._services[service].restarts

    # -- commands --------------------------------------------------------------------------------

    def set_desired(self, service: str, count: int) -> None:
        state = self._services[service]
        if count != state.desired:
            state.desired = max(0, count)
            state.changed.set()

    def report_unreachable(self, endpoint: Endpoint) -> None:
        """The router could not connect: treat the instance as crashed (it is replaced)."""
        for inst in self._services[endpoint.service].instances:
            if inst.endpoint is endpoint and inst.state == "ready":
                self._spawn_bg(self._kill(inst))

    async def start(self) -> None:
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        self._write_targets()
        for name, state in self._services.items():
            state.task = asyncio.create_task(self._reconcile_loop(state), name=f"supervise:{name}")

    async def wait_ready(self, service: str, count: int, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.ready_count(service) >= count:
                return True
            await asyncio.sleep(0.1)
        return self.ready_count(service) >= count

    async def stop(self) -> None:
        """Stop every instance (SIGTERM, then SIGKILL after the grace period) and the reconcilers."""
        self._stopping = True
        for state in self._services.values():
            if state.task is not None:
                state.task.cancel()
        for state in self._services.values():
            if state.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await state.task
        victims = [i for s in self._services.values() for i in s.instances if i.state != "exited"]
        await asyncio.gather(*(self._terminate(i) for i in victims), return_exceptions=True)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._probe.aclose()
        self._write_targets()

    # -- reconcile -------------------------------------------------------------------------------

    async def _reconcile_loop(self, state: _ServiceState) -> None:
        while True:
            self._reconcile(state)
            state.changed.clear()
            wait = 1.0
            if state.not_before > time.monotonic():
                wait = min(wait, state.not_before - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.changed.wait(), max(wait, 0.05))

    def _reconcile(self, state: _ServiceState) -> None:
        if self._stopping:
            return
        alive = [i for i in state.instances if i.alive]
        missing = state.desired - len(alive)
        if missing > 0 and time.monotonic() >= state.not_before:
            for _ in range(missing):
                self._spawn_bg(self._start_instance(state))
        elif missing < 0:
            # Still-starting instances first (they serve nothing yet), then the least busy ready ones.
            ranked = sorted(
                alive,
                key=lambda i: (i.state == "ready", i.endpoint.in_flight if i.endpoint else 0, -i.started_at),
            )
            for inst in ranked[:-missing]:
                self._spawn_bg(self._retire(state, inst))

    def _spawn_bg(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _next_ordinal(self, state: _ServiceState) -> int:
        used = {i.ordinal for i in state.instances} | state.reserved
        n = 1
        while n in used:
            n += 1
        return n

    async def _start_instance(self, state: _ServiceState) -> None:
        spec = state.spec
        port = free_port()
        ordinal = self._next_ordinal(state)
        state.reserved.add(ordinal)  # concurrent starts must not share a number (or a log file)
        log_path = self._logs_dir / f"{spec.service}-{ordinal}.log"
        env = {**spec.env, "PORT": str(port)}
        argv = [part.replace("{port}", str(port)) for part in spec.command]
        try:
            with log_path.open("ab") as log:
                log.write(
                    f"--- knlocal: starting {spec.service}-{ordinal} on port {port} at {time.ctime()}\n".encode()
                )
                log.flush()
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=self._cwd,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,  # own process group: signals reach the instance and its children only
                )
        except OSError as exc:
            state.reserved.discard(ordinal)
            state.not_before = time.monotonic() + _BACKOFF_MAX
            state.changed.set()
            with contextlib.suppress(OSError), log_path.open("ab") as log:
                log.write(f"--- knlocal: cannot start {spec.service}: {exc}\n".encode())
            return
        inst = Instance(spec.service, ordinal, port, process, log_path)
        state.instances.append(inst)
        state.reserved.discard(ordinal)
        inst.monitor = asyncio.create_task(self._monitor(state, inst), name=f"monitor:{inst.name}")
        if await self._wait_until_ready(inst, spec.readiness_path):
            if inst.state != "starting":
                return  # retired while starting
            inst.state = "ready"
            inst.endpoint = Endpoint(spec.service, inst.name, f"http://127.0.0.1:{port}")
            state.router.add_endpoint(inst.endpoint)
            self._write_targets()
        elif inst.state == "starting":
            with log_path.open("ab") as log:
                log.write(f"--- knlocal: not ready within {self._startup_timeout:g}s, stopping\n".encode())
            await self._kill(inst)

    async def _wait_until_ready(self, inst: Instance, path: str) -> bool:
        url = f"http://127.0.0.1:{inst.port}{path}"
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline and inst.state == "starting" and inst.process.returncode is None:
            try:
                if (await self._probe.get(url)).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(_PROBE_INTERVAL)
        return False

    async def _monitor(self, state: _ServiceState, inst: Instance) -> None:
        code = await inst.process.wait()
        expected = inst.state in ("draining", "stopping")
        if inst.endpoint is not None:
            state.router.remove_endpoint(inst.endpoint)
        was_ready = inst.endpoint is not None
        inst.state = "exited"
        if inst in state.instances:
            state.instances.remove(inst)
        if was_ready:
            self._write_targets()
        if not expected and not self._stopping:
            with inst.log_path.open("ab") as log:
                log.write(f"--- knlocal: {inst.name} exited with code {code}; replacing it\n".encode())
            uptime = time.monotonic() - inst.started_at
            state.crashes = 1 if uptime >= _STABLE_AFTER else state.crashes + 1
            state.restarts += 1
            delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (state.crashes - 1))
            state.not_before = time.monotonic() + delay
        state.changed.set()

    async def _retire(self, state: _ServiceState, inst: Instance) -> None:
        was_ready = inst.state == "ready"
        inst.state = "draining"
        if was_ready and inst.endpoint is not None:
            await state.router.drain(inst.endpoint, state.spec.drain_timeout)
            self._write_targets()
        await self._terminate(inst)

    async def _kill(self, inst: Instance) -> None:
        """Stop a broken instance; its state stays as it was, so the monitor counts the exit as a crash."""
        await self._signal_and_wait(inst)

    async def _terminate(self, inst: Instance) -> None:
        if inst.state in ("starting", "ready"):
            inst.state = "stopping"
        await self._signal_and_wait(inst)

    async def _signal_and_wait(self, inst: Instance) -> None:
        if inst.process.returncode is not None:
            return
        self._killpg(inst, signal.SIGTERM)
        try:
            await asyncio.wait_for(inst.process.wait(), self._stop_grace)
        except TimeoutError:
            self._killpg(inst, signal.SIGKILL)
            await inst.process.wait()
        if inst.monitor is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await inst.monitor

    @staticmethod
    def _killpg(inst: Instance, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(inst.process.pid, sig)

    # -- Prometheus file_sd ----------------------------------------------------------------------

    def _write_targets(self) -> None:
        if self._targets_file is None:
            return
        groups = [
            {
                "targets": [f"127.0.0.1:{inst.port}"],
                "labels": {
                    "service": name,
                    "instance": inst.name,
                    "__metrics_path__": state.spec.metrics_path,
                },
            }
            for name, state in sorted(self._services.items())
            for inst in sorted(state.instances, key=lambda i: i.ordinal)
            if inst.state == "ready"
        ]
        self._targets_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._targets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self._targets_file)
