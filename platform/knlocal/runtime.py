"""The local runtime assembled: manifests -> routers, broker, supervisor, autoscaler, admin, in one event loop.

Start order: routers first (their URLs are what Trigger subscribers and dead-letter sinks resolve to),
then the broker (ingress = every bound function's ``K_SINK``, dispatchers), the supervisor (instances),
the autoscaler (initial scale), and the admin port. Stop order is the reverse of the data flow: the
ingress stops taking events and the dispatchers finish their deliveries, then the routers finish their
requests, then the instances get SIGTERM (SIGKILL after a grace period).

Instance environment: the runtime's own environment (so ``DATABASE_URL``, ``MONGODB_URL``, ``REDIS_URL``,
``REDIS_PREFIX`` … reach every function as they reach the runtime; ``KNLOCAL_*`` and a stray ``K_SINK``
are left out), then the Service's literal ``env``, then Knative's runtime contract: ``K_SERVICE``,
``K_CONFIGURATION``, ``K_REVISION``, ``PORT``, and ``K_SINK`` only for Services a SinkBinding selects,
as on a cluster. ``OBSERVATORY_RUNTIME_URL`` points at the admin port unless already set, and
``ALERTMANAGER_URL`` at the Alertmanager the runtime runs (``knlocal.observability``), if it runs one.
Prometheus and Alertmanager start last (Prometheus scrapes the admin port) and stop last.

HTTP clients: each router and each dispatcher owns one, so a connection pool only ever holds connections
to one destination. httpcore walks the whole pool on every request; one client shared by all routers was
measured as the runtime's biggest cost (docs/BENCHMARKS.md, "Profile").
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from knlocal import manifests
from knlocal.admin import AdminServer
from knlocal.config import RuntimeConfig
from knlocal.eventing.broker import Broker
from knlocal.observability import Observability
from knlocal.serving.activator import Endpoint
from knlocal.serving.autoscaler import Autoscaler
from knlocal.serving.kpa.config import AutoscalerConfig, DeciderSpec, decider_spec
from knlocal.serving.router import BindError, Router
from knlocal.serving.supervisor import InstanceSpec, Supervisor

__all__ = ["Runtime", "RuntimeStartError"]

log = logging.getLogger("knlocal.runtime")

# Drop from the instances' environment: the runtime's own settings, and values the runtime sets per Service.
_NOT_PASSED = ("KNLOCAL_", "K_SINK", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "PORT", "FUNCTION_")


class RuntimeStartError(Exception):
    """The runtime cannot start: bad manifests, a port in use, a Service it cannot host."""


class Runtime:
    def __init__(
        self,
        config: RuntimeConfig,
        *,
        environ: Mapping[str, str],
        port_overrides: Mapping[str, int] | None = None,
        repo_root: Path | None = None,
        python: str = sys.executable,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.config = config
        self.repo_root = repo_root if repo_root is not None else config.knative_dir.resolve().parent
        self._environ = dict(environ)
        self._port_overrides = dict(port_overrides or {})
        self._python = python
        self._startup_timeout_s = startup_timeout_s
        self.started_at = time.time()
        self.topology: manifests.Topology | None = None
        self.routers: dict[str, Router] = {}
        self.specs: dict[str, DeciderSpec] = {}
        self.broker: Broker | None = None
        self.supervisor: Supervisor | None = None
        self.autoscaler: Autoscaler | None = None
        self.admin: AdminServer | None = None
        self.observability = Observability(
            enabled=config.observability,
            prometheus_port=config.prometheus_port,
            alertmanager_port=config.alertmanager_port,
            source_dir=self.repo_root / "platform" / "observability",
            state_dir=config.state_dir,
            logs_dir=self.logs_dir,
            targets_file=self.targets_file,
        )
        self._stopped = asyncio.Event()

    # -- paths -----------------------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.config.state_dir / "logs"

    @property
    def targets_file(self) -> Path:
        return self.config.state_dir / "prometheus" / "targets.json"

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            topology = manifests.load_topology(self.config.knative_dir)
        except manifests.ManifestError as exc:
            raise RuntimeStartError(str(exc)) from exc
        self.topology = topology
        for warning in topology.warnings:
            log.warning("%s", warning)
        autoscaler_config = AutoscalerConfig(scale_to_zero_grace_period_s=self.config.scale_to_zero_grace_s)
        for name, service in topology.services.items():
            if not service.function_target or not service.function_source:
                raise RuntimeStartError(
                    f"{service.file}: Service {name}: needs FUNCTION_TARGET and FUNCTION_SOURCE env"
                )
            try:
                self.specs[name] = decider_spec(
                    service.annotations,
                    service.container_concurrency,
                    autoscaler_config,
                    stable_window_override_s=self.config.stable_window_s,
                )
            except ValueError as exc:
                raise RuntimeStartError(f"{service.file}: Service {name}: {exc}") from exc

        try:
            await self._start_parts(topology)
        except BaseException:
            await self.stop()
            raise

    async def _start_parts(self, topology: manifests.Topology) -> None:
        for name, service in topology.services.items():
            port = self._port_overrides.get(name, service.local_port or 0)
            router = Router(
                name,
                port=port,
                container_concurrency=service.container_concurrency,
                timeout_seconds=float(service.timeout_seconds),
                poke=functools.partial(self._poke, name),
                unreachable=self._unreachable,
            )
            await self._bind(router.start, f"router for {name}")
            self.routers[name] = router

        self.broker = Broker(self.config, topology, self.resolve)
        await self._bind(self.broker.start, "broker ingress")

        # The admin port is bound before the instance specs are made: they carry its real URL (port 0 = any).
        self.admin = AdminServer(self.snapshot, self.config.admin_port)
        await self._bind(self.admin.start, "admin port")
        self.observability.plan()  # before the instance specs: they carry ALERTMANAGER_URL
        specs = {name: self._instance_spec(topology, service) for name, service in topology.services.items()}
        self.supervisor = Supervisor(
            specs,
            self.routers,
            logs_dir=self.logs_dir,
            targets_file=self.targets_file,
            cwd=self.repo_root,
            startup_timeout=self._startup_timeout_s,
        )
        await self.supervisor.start()
        self.autoscaler = Autoscaler(
            self.specs,
            {name: r.meter for name, r in self.routers.items()},
            self.supervisor,
            tick_interval_s=self.config.tick_interval_s,
        )
        self.autoscaler.start()
        await self.observability.start(admin_port=self.admin_port)

    async def _bind(self, start: Callable[[], Awaitable[object]], what: str) -> None:
        try:
            await start()
        except BindError as exc:
            raise RuntimeStartError(f"{what}: {exc}; stop what uses it or choose another port") from exc

    def _poke(self, service: str) -> None:
        if self.autoscaler is not None:
            self.autoscaler.poke(service)

    def _unreachable(self, endpoint: Endpoint) -> None:
        if self.supervisor is not None:
            self.supervisor.report_unreachable(endpoint)

    async def run_until_stopped(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        """Ingress -> dispatchers drain -> routers drain -> instances; then the admin port."""
        if self.autoscaler is not None:
            await self.autoscaler.stop()
        if self.broker is not None:
            await self.broker.stop()
        await asyncio.gather(*(r.stop() for r in self.routers.values()), return_exceptions=True)
        if self.supervisor is not None:
            await self.supervisor.stop()
        if self.admin is not None:
            await self.admin.stop()
        await self.observability.stop()
        self._stopped.set()

    # -- wiring ----------------------------------------------------------------------------------

    def resolve(self, destination: manifests.Destination) -> str:
        """A Trigger subscriber / dead-letter sink / SinkBinding sink as a URL on this machine."""
        base: str | None = None
        ref = destination.ref
        if destination.service_name is not None:
            base = self.routers[destination.service_name].url + "/"
        elif ref is not None and ref.kind == "Broker":
            if self.broker is None:
                raise RuntimeStartError("a Broker sink was resolved before the broker started")
            base = self.broker.ingress_url
        elif ref is not None:
            raise RuntimeStartError(f"cannot resolve a {ref.kind} {ref.name!r} locally")
        if destination.uri is None:
            assert base is not None
            return base
        return urljoin(base, destination.uri) if base else destination.uri

    def _instance_spec(self, topology: manifests.Topology, service: manifests.Service) -> InstanceSpec:
        env = {k: v for k, v in self._environ.items() if not k.startswith(_NOT_PASSED)}
        env.update(service.env)
        source = Path(service.function_source or "")
        env["FUNCTION_SOURCE"] = str(source if source.is_absolute() else self.repo_root / source)
        env["FUNCTION_TARGET"] = service.function_target or ""
        env["K_SERVICE"] = service.name
        env["K_CONFIGURATION"] = service.name
        env["K_REVISION"] = f"{service.name}-00001"
        sink = topology.sink_for(service.name)
        if sink is not None:
            env["K_SINK"] = self.resolve(sink)
        if "OBSERVATORY_RUNTIME_URL" not in env:
            env["OBSERVATORY_RUNTIME_URL"] = f"http://127.0.0.1:{self.admin_port}"
        alertmanager = self.observability.alertmanager_url
        if alertmanager is not None and "ALERTMANAGER_URL" not in env:
            env["ALERTMANAGER_URL"] = alertmanager
        command = [
            self._python, "-m", "uvicorn", "functions_framework.aio:app",
            "--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--timeout-graceful-shutdown", "5",
        ]  # fmt: skip
        return InstanceSpec(
            service=service.name,
            command=command,
            env=env,
            readiness_path=service.readiness_path or "/",
            drain_timeout=float(service.timeout_seconds),
        )

    # -- state -----------------------------------------------------------------------------------

    @property
    def admin_port(self) -> int:
        return int(self.admin.url.rsplit(":", 1)[1]) if self.admin is not None else self.config.admin_port

    def ready(self) -> bool:
        """Every Service has its min-scale (at least its initial instances) ready and RabbitMQ is connected."""
        if self.supervisor is None or self.broker is None:
            return False
        for name, spec in self.specs.items():
            if self.supervisor.ready_count(name) < spec.min_scale:
                return False
        return bool(self.broker.connection.connected)

    def snapshot(self) -> dict[str, Any]:
        services = []
        for name, router in self.routers.items():
            entry: dict[str, Any] = {"name": name, "url": router.url}
            if self.autoscaler is not None:
                entry.update(self.autoscaler.status(name))
            if self.supervisor is not None:
                entry["actual"] = self.supervisor.actual_count(name)
                entry["ready"] = self.supervisor.ready_count(name)
                entry["restarts"] = self.supervisor.restarts(name)
                entry["instances"] = [
                    {
                        "name": i.name,
                        "pid": i.process.pid,
                        "port": i.port,
                        "state": i.state,
                        "in_flight": i.endpoint.in_flight if i.endpoint else 0,
                        "served": i.endpoint.served if i.endpoint else 0,
                        "log": str(i.log_path),
                    }
                    for i in self.supervisor.instances(name)
                ]
            entry["in_flight"] = router.meter.in_flight
            entry["queued"] = router.gate.queued
            entry["rejected"] = router.rejected
            entry["container_concurrency"] = router.gate.cc
            services.append(entry)
        broker = self.broker.stats() if self.broker is not None else None
        triggers, dead_letters = _trigger_rows(broker)
        return {
            "ready": self.ready(),
            "runtime": {
                "pid": os.getpid(),
                "started_at": self.started_at,
                "uptime_s": round(time.time() - self.started_at, 1),
                "knative_dir": str(self.config.knative_dir),
                "state_dir": str(self.config.state_dir),
                "ingress_url": self.broker.ingress_url if self.broker is not None else None,
                "admin_url": self.admin.url if self.admin is not None else None,
                "tick_interval_s": self.config.tick_interval_s,
            },
            "services": services,
            "triggers": triggers,
            "dead_letters": dead_letters,
            "broker": broker,
            "observability": self.observability.status(),
            "warnings": list(self.topology.warnings) if self.topology is not None else [],
        }


def _trigger_rows(broker: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    dead = {"dead_lettered": 0, "delivered_to_sink": 0, "pending": 0}
    for d in (broker or {}).get("dispatchers", []):
        rows.append(
            {
                "name": d["name"],
                "queue": d["queue"],
                "queue_depth": d.get("queue_depth"),
                "in_flight": d.get("in_flight", 0),
                "delivered": d.get("delivered", 0),
                "retried": d.get("retried", 0),
                "dead_lettered": d.get("dead_lettered", 0),
            }
        )
        dead["dead_lettered"] += int(d.get("dead_lettered", 0))
        if d.get("dead_letter_queue"):
            dead["delivered_to_sink"] += int(d.get("delivered", 0))
            dead["pending"] += int(d.get("queue_depth") or 0)
    return rows, dead
