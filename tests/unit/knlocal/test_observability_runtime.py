"""knlocal.observability processes (plan, start, restart, stop) and the admin port's /metrics text."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from knlocal.admin import prometheus_text
from knlocal.observability import INSTALL_HINT, Observability

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "platform" / "observability"


def make(tmp_path: Path, *, enabled: bool = True, prom: int = 0, am: int = 0, **kw: Any) -> Observability:
    return Observability(
        enabled=enabled,
        prometheus_port=prom,
        alertmanager_port=am,
        source_dir=kw.pop("source_dir", SOURCE),
        state_dir=tmp_path / "state",
        logs_dir=tmp_path / "state" / "logs",
        targets_file=tmp_path / "state" / "prometheus" / "targets.json",
        **kw,
    )


def only(*present: str) -> Callable[[str], str | None]:
    return lambda name: f"/usr/bin/{name}" if name in present else None


async def until(what: str, probe: Callable[[], bool], deadline_s: float = 30.0) -> None:
    end = asyncio.get_running_loop().time() + deadline_s
    while not probe():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"{what}: not within {deadline_s:g}s")
        await asyncio.sleep(0.1)


# -- plan ----------------------------------------------------------------------------------------


def test_off_runs_nothing_and_names_the_setting(tmp_path: Path) -> None:
    obs = make(tmp_path, enabled=False, which=only("prometheus", "prometheus-alertmanager"))
    obs.plan()
    assert obs.alertmanager_url is None
    status = obs.status()
    assert status["prometheus"]["note"] == status["alertmanager"]["note"] == "KNLOCAL_OBSERVABILITY=off"
    assert status["prometheus"]["url"] is None


def test_missing_binaries_are_one_log_line_each_with_the_install_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    obs = make(tmp_path, which=only())
    with caplog.at_level(logging.WARNING, logger="knlocal.observability"):
        obs.plan()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert all(INSTALL_HINT in line for line in lines)
    assert lines[0].startswith("prometheus is not running") and lines[1].startswith(
        "alertmanager is not running"
    )
    assert obs.alertmanager_url is None


def test_upstream_alertmanager_name_is_found_too(tmp_path: Path) -> None:
    obs = make(tmp_path, which=only("prometheus", "alertmanager"))
    obs.plan()
    assert obs.alertmanager.binary == "/usr/bin/alertmanager"
    assert obs.alertmanager_url is not None and obs.alertmanager_url.startswith("http://127.0.0.1:")


def test_a_taken_port_is_reported_and_its_part_not_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        obs = make(tmp_path, am=port, which=only("prometheus", "prometheus-alertmanager"))
        with caplog.at_level(logging.WARNING, logger="knlocal.observability"):
            obs.plan()
    assert obs.alertmanager_url is None
    assert f"port {port} is in use" in caplog.text and "KNLOCAL_ALERTMANAGER_PORT=0" in caplog.text
    assert obs.prometheus.port is not None and obs.prometheus.note is None


# -- processes (the real binaries; setup.sh installs them) ----------------------------------------


def test_real_prometheus_and_alertmanager_start_with_generated_configs_and_stop(tmp_path: Path) -> None:
    async def run() -> None:
        obs = make(tmp_path)
        obs.plan()
        for child in (obs.prometheus, obs.alertmanager):
            assert child.note is None, f"{child.name}: {child.note} (scripts/setup.sh installs it)"
        try:
            await obs.start(admin_port=18091)
            await until("both ready", lambda: obs.prometheus.state == obs.alertmanager.state == "ready")
            async with httpx.AsyncClient() as client:
                assert obs.alertmanager_url is not None and obs.prometheus.url is not None
                am = (await client.get(obs.alertmanager_url + "/api/v2/status")).json()
                assert "observatory-null" in am["config"]["original"]
                rules = (await client.get(obs.prometheus.url + "/api/v1/rules")).json()["data"]["groups"]
                assert {r["name"] for g in rules for r in g["rules"]} >= {"ServiceDown", "DeadLettersPresent"}
                active: list[Any] = []
                for _ in range(100):
                    reply = await client.get(obs.prometheus.url + "/api/v1/alertmanagers")
                    active = reply.json()["data"]["activeAlertmanagers"]
                    if active:
                        break
                    await asyncio.sleep(0.2)
                assert [a["url"] for a in active] == [obs.alertmanager_url + "/api/v2/alerts"]
            pids = [c.process.pid for c in (obs.prometheus, obs.alertmanager) if c.process is not None]
            assert len(pids) == 2
        finally:
            await obs.stop()
        assert obs.status()["prometheus"]["state"] == obs.status()["alertmanager"]["state"] == "stopped"
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)

    asyncio.run(run())


def test_a_child_that_exits_is_restarted(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "prometheus"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'fake prometheus giving up'\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)

    async def run() -> None:
        obs = make(tmp_path, which=lambda name: str(fake) if name == "prometheus" else None)
        obs.plan()
        try:
            await obs.start(admin_port=18091)
            await until("restarted twice", lambda: obs.prometheus.restarts >= 2)
        finally:
            await obs.stop()
        log = (tmp_path / "state" / "logs" / "prometheus.log").read_text()
        assert log.count("fake prometheus giving up") >= 3
        assert "--web.listen-address=127.0.0.1:" in log

    asyncio.run(run())


# -- admin /metrics --------------------------------------------------------------------------------

SNAPSHOT: dict[str, Any] = {
    "services": [
        {"name": "gateway", "desired": 1, "actual": 1, "ready": 1, "restarts": 0},
        {"name": "processor", "desired": 3, "actual": 2, "ready": 1, "restarts": 2},
    ],
    "broker": {
        "ingress": {"accepted": 7, "invalid": 1, "unavailable": 0},
        "dispatchers": [
            {"name": "observatory/processor", "queue_depth": 5, "in_flight": 2, "delivered": 10, "retried": 3,
             "dead_lettered": 1, "dropped": 0, "replies": 9, "redelivered": 0},
            {"name": 'observatory/odd "name"', "queue_depth": None, "in_flight": 0, "delivered": 0, "retried": 0,
             "dead_lettered": 0, "dropped": 0, "replies": 0, "redelivered": 0},
        ],
    },
}  # fmt: skip


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_admin_metrics_text() -> None:
    found = samples(prometheus_text(SNAPSHOT))
    assert found[("knlocal_instances", (("service", "processor"), ("state", "desired")))] == 3
    assert found[("knlocal_instances", (("service", "processor"), ("state", "actual")))] == 2
    assert found[("knlocal_instances", (("service", "processor"), ("state", "ready")))] == 1
    assert found[("knlocal_instances", (("service", "gateway"), ("state", "ready")))] == 1
    assert found[("knlocal_queue_depth", (("trigger", "observatory/processor"),))] == 5
    assert ("knlocal_queue_depth", (("trigger", 'observatory/odd "name"'),)) not in found  # depth unknown
    assert found[("knlocal_dispatcher_dead_lettered_total", (("trigger", "observatory/processor"),))] == 1
    assert found[("knlocal_dispatcher_retried_total", (("trigger", 'observatory/odd "name"'),))] == 0
    assert found[("knlocal_instance_restarts_total", (("service", "processor"),))] == 2
    assert found[("knlocal_ingress_events_total", (("outcome", "accepted"),))] == 7


def test_admin_metrics_text_of_an_empty_runtime_is_valid() -> None:
    text = prometheus_text({"services": [], "broker": None})
    assert samples(text) == {}
    assert "# TYPE knlocal_instances gauge" in text
