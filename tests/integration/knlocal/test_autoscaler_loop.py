"""The autoscaler's I/O loop over a real router and real instance processes, windows shortened by settings.

Stable window 6 s (Knative's minimum), scale-to-zero grace 1 s, tick 0.5 s: the shipped decider and
scaler, only faster. Instances hold ``/slow`` requests until a marker file exists.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from knlocal.serving.autoscaler import Autoscaler
from knlocal.serving.kpa.config import AutoscalerConfig, decider_spec
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
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""

ANNOTATIONS = {
    "autoscaling.knative.dev/target": "2",
    "autoscaling.knative.dev/target-utilization-percentage": "100",
    "autoscaling.knative.dev/min-scale": "0",
    "autoscaling.knative.dev/max-scale": "4",
}


async def until(what: str, predicate: Callable[[], bool], seconds: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not reached within {seconds:g}s")
        await asyncio.sleep(0.05)


class Rig:
    def __init__(self, router: Router, supervisor: Supervisor, autoscaler: Autoscaler, client: httpx.AsyncClient, gate: Path) -> None:  # fmt: skip
        self.router, self.supervisor, self.autoscaler, self.client, self.gate = (
            router,
            supervisor,
            autoscaler,
            client,
            gate,
        )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    (tmp_path / "app.py").write_text(APP)
    command = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(tmp_path), "--host", "127.0.0.1",
               "--port", "{port}", "--no-access-log"]  # fmt: skip
    env = {**os.environ, "GATE_FILE": str(tmp_path / "gate")}
    spec = decider_spec(
        ANNOTATIONS, 0, AutoscalerConfig(scale_to_zero_grace_period_s=1.0), stable_window_override_s=6.0
    )
    client = httpx.AsyncClient(timeout=120)
    holder: dict[str, Autoscaler] = {}
    router = Router("svc", port=0, container_concurrency=0, timeout_seconds=90, client=client,
                    poke=lambda: holder["a"].poke("svc"))  # fmt: skip
    await router.start()
    supervisor = Supervisor(
        {"svc": InstanceSpec("svc", command, env, readiness_path="/", drain_timeout=30)},
        {"svc": router},
        logs_dir=tmp_path / "logs",
        targets_file=None,
        cwd=tmp_path,
        stop_grace=5,
    )
    await supervisor.start()
    autoscaler = Autoscaler({"svc": spec}, {"svc": router.meter}, supervisor, tick_interval_s=0.5)
    holder["a"] = autoscaler
    autoscaler.start()
    try:
        yield Rig(router, supervisor, autoscaler, client, tmp_path / "gate")
    finally:
        await autoscaler.stop()
        await supervisor.stop()
        await router.stop()
        await client.aclose()


async def test_starts_at_initial_scale_then_idles_to_zero(rig: Rig) -> None:
    await until("initial instance ready", lambda: rig.supervisor.ready_count("svc") == 1)
    await until("scaled to zero", lambda: rig.supervisor.actual_count("svc") == 0)
    assert rig.autoscaler.status("svc")["activity"] == "Inactive"


async def test_burst_scales_out_and_request_at_zero_is_served(rig: Rig) -> None:
    await until("scaled to zero", lambda: rig.supervisor.actual_count("svc") == 0)
    # Six requests held in flight: target 2 per instance -> 3 instances (max 4).
    held = [asyncio.create_task(rig.client.get(rig.router.url + "/slow")) for _ in range(6)]
    await until("more than one instance", lambda: rig.supervisor.ready_count("svc") > 1)
    assert rig.autoscaler.status("svc")["desired"] <= 4
    rig.gate.touch()
    assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 6
    await until("back to zero", lambda: rig.supervisor.actual_count("svc") == 0)
    # At zero again, one request wakes the service (poke) and is answered.
    resp = await rig.client.get(rig.router.url + "/")
    assert resp.status_code == 200 and resp.text == "ok"
