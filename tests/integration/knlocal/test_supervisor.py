"""The supervisor with real processes and signals: readiness gating, file_sd targets, crash restart, drain, stop.

The instance is a tiny ASGI app under uvicorn, written to a temporary directory; ``/slow`` holds its
response until a marker file exists, so the test controls in-flight requests without timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from knlocal.serving.router import Router
from knlocal.serving.supervisor import InstanceSpec, Supervisor

pytestmark = pytest.mark.integration

APP = """
import asyncio, os, pathlib

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        gate = pathlib.Path(os.environ["GATE_FILE"])
        while not gate.exists():
            await asyncio.sleep(0.02)
    body = (os.environ["K_SERVICE"] + " " + os.environ["PORT"]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
"""


async def until(what: str, predicate: Callable[[], bool], seconds: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not reached within {seconds:g}s")
        await asyncio.sleep(0.05)


class Rig:
    def __init__(self, tmp: Path, router: Router, supervisor: Supervisor, client: httpx.AsyncClient) -> None:
        self.tmp, self.router, self.supervisor, self.client = tmp, router, supervisor, client
        self.gate = tmp / "gate"
        self.targets = tmp / "prometheus" / "targets.json"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    (tmp_path / "app.py").write_text(APP)
    command = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(tmp_path), "--host", "127.0.0.1",
               "--port", "{port}", "--no-access-log"]  # fmt: skip
    env = {**os.environ, "K_SERVICE": "svc", "GATE_FILE": str(tmp_path / "gate")}
    client = httpx.AsyncClient(timeout=60)
    router = Router("svc", port=0, container_concurrency=0, timeout_seconds=60, client=client)
    await router.start()
    supervisor = Supervisor(
        {"svc": InstanceSpec("svc", command, env, readiness_path="/", drain_timeout=60)},
        {"svc": router},
        logs_dir=tmp_path / "logs",
        targets_file=tmp_path / "prometheus" / "targets.json",
        cwd=tmp_path,
        stop_grace=5,
    )
    await supervisor.start()
    try:
        yield Rig(tmp_path, router, supervisor, client)
    finally:
        await supervisor.stop()
        await router.stop()
        await client.aclose()


async def test_starts_instances_routes_only_ready_ones_and_lists_targets(rig: Rig) -> None:
    rig.supervisor.set_desired("svc", 2)
    await until("two ready", lambda: rig.supervisor.ready_count("svc") == 2)
    assert len(rig.router.gate.endpoints) == 2
    resp = await rig.client.get(rig.router.url + "/")
    assert resp.status_code == 200 and resp.text.startswith("svc ")
    groups = json.loads(rig.targets.read_text())
    assert sorted(g["labels"]["instance"] for g in groups) == ["svc-1", "svc-2"]
    assert all(g["labels"]["service"] == "svc" and g["targets"][0].startswith("127.0.0.1:") for g in groups)
    assert (rig.tmp / "logs" / "svc-1.log").exists()


async def test_crashed_instance_is_replaced(rig: Rig) -> None:
    rig.supervisor.set_desired("svc", 1)
    await until("one ready", lambda: rig.supervisor.ready_count("svc") == 1)
    [first] = rig.supervisor.instances("svc")
    os.killpg(first.process.pid, signal.SIGKILL)
    await until(
        "a replacement is ready",
        lambda: rig.supervisor.ready_count("svc") == 1 and rig.supervisor.instances("svc")[0] is not first,
    )
    assert rig.supervisor.restarts("svc") == 1
    assert "exited with code" in (rig.tmp / "logs" / "svc-1.log").read_text()


async def test_scale_down_drains_in_flight_requests_before_stopping(rig: Rig) -> None:
    rig.supervisor.set_desired("svc", 1)
    await until("one ready", lambda: rig.supervisor.ready_count("svc") == 1)
    [inst] = rig.supervisor.instances("svc")
    held = asyncio.create_task(rig.client.get(rig.router.url + "/slow"))
    await until("request in flight", lambda: inst.endpoint is not None and inst.endpoint.in_flight == 1)
    rig.supervisor.set_desired("svc", 0)
    await until("instance draining", lambda: inst.state == "draining")
    assert inst.process.returncode is None  # still serving its request
    rig.gate.touch()
    resp = await held
    assert resp.status_code == 200
    await until("instance stopped", lambda: inst.process.returncode is not None)
    assert rig.supervisor.restarts("svc") == 0
    assert json.loads(rig.targets.read_text()) == []


async def test_stop_terminates_every_instance(rig: Rig) -> None:
    rig.supervisor.set_desired("svc", 2)
    await until("two ready", lambda: rig.supervisor.ready_count("svc") == 2)
    processes = [i.process for i in rig.supervisor.instances("svc")]
    await rig.supervisor.stop()
    assert all(p.returncode is not None for p in processes)
