"""knlocal.observability: the local Prometheus configuration derived from the committed one, and the settings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from knlocal.config import ConfigError, RuntimeConfig
from knlocal.observability import (
    LocalEndpoints,
    ObservabilityConfigError,
    external_targets,
    prometheus_config,
    render_yaml,
)

ROOT = Path(__file__).resolve().parents[3]
COMMITTED_DIR = ROOT / "platform" / "observability" / "prometheus"
COMMITTED = COMMITTED_DIR / "prometheus-local.yml"
TARGETS = Path("/state/prometheus/targets.json")
BASE = Path("/repo/platform/observability/prometheus")


def endpoints(prom: int = 19090, am: int | None = 19093, admin: int = 18091) -> LocalEndpoints:
    return LocalEndpoints(prometheus_port=prom, alertmanager_port=am, admin_port=admin, targets_file=TARGETS)


def static(*targets: str, **labels: str) -> dict[str, Any]:
    group: dict[str, Any] = {"targets": list(targets)}
    if labels:
        group["labels"] = labels
    return group


def job(name: str, *groups: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"job_name": name, "static_configs": list(groups), **extra}


# (name, committed document, endpoints, unreachable, expected document)
CASES: list[tuple[str, dict[str, Any], LocalEndpoints, list[str], dict[str, Any]]] = [
    (
        "committed loopback ports move to the ports in use; others stay",
        {"scrape_configs": [
            job("prometheus", static("127.0.0.1:9090", service="prometheus")),
            job("knlocal", static("localhost:8091", service="knlocal"), honor_labels=True),
            job("other", static("127.0.0.1:9100", "10.0.0.1:8091")),
        ]},
        endpoints(),
        [],
        {"rule_files": [], "scrape_configs": [
            job("prometheus", static("127.0.0.1:19090", service="prometheus")),
            job("knlocal", static("127.0.0.1:18091", service="knlocal"), honor_labels=True),
            job("other", static("127.0.0.1:9100", "10.0.0.1:8091")),
        ]},
    ),
    (
        "rule files and file_sd files become absolute; the default targets file becomes the runtime's",
        {
            "rule_files": ["alert-rules.yml", "/etc/extra.yml"],
            "scrape_configs": [{"job_name": "functions", "file_sd_configs": [
                {"files": ["../../../.observatory/prometheus/targets.json", "more/*.json"], "refresh_interval": "5s"}
            ]}],
        },
        endpoints(),
        [],
        {
            "rule_files": [str(BASE / "alert-rules.yml"), "/etc/extra.yml"],
            "scrape_configs": [{"job_name": "functions", "file_sd_configs": [
                {"files": [str(TARGETS), str(BASE / "more/*.json")], "refresh_interval": "5s"}
            ]}],
        },
    ),
    (
        "with an Alertmanager, alerts go to its port",
        {"alerting": {"alertmanagers": [{"static_configs": [static("127.0.0.1:9093")]}]}},
        endpoints(am=40000),
        [],
        {"alerting": {"alertmanagers": [{"static_configs": [static("127.0.0.1:40000")]}]},
         "rule_files": [], "scrape_configs": []},
    ),
    (
        "without an Alertmanager, no alerting section",
        {"alerting": {"alertmanagers": [{"static_configs": [static("127.0.0.1:9093")]}]}, "rule_files": []},
        endpoints(am=None),
        [],
        {"rule_files": [], "scrape_configs": []},
    ),
    (
        "an unreachable external target is left out, and a job left without targets too",
        {"scrape_configs": [
            job("rabbitmq", static("127.0.0.1:15692", service="rabbitmq"), metrics_path="/metrics/per-object"),
            job("mixed", static("127.0.0.1:15692", "127.0.0.1:9100")),
        ]},
        endpoints(),
        ["127.0.0.1:15692"],
        {"rule_files": [], "scrape_configs": [job("mixed", static("127.0.0.1:9100"))]},
    ),
    (
        "global settings pass through untouched",
        {"global": {"scrape_interval": "5s", "external_labels": {"observatory": "local"}}},
        endpoints(),
        [],
        {"global": {"scrape_interval": "5s", "external_labels": {"observatory": "local"}},
         "rule_files": [], "scrape_configs": []},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("committed", "where", "unreachable", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_prometheus_config(
    committed: dict[str, Any], where: LocalEndpoints, unreachable: list[str], expected: dict[str, Any]
) -> None:
    before = yaml.safe_dump(committed)
    assert prometheus_config(committed, BASE, where, unreachable=unreachable) == expected
    assert yaml.safe_dump(committed) == before  # the input is not changed


def test_a_malformed_committed_file_is_a_typed_error() -> None:
    with pytest.raises(ObservabilityConfigError, match="scrape_configs"):
        prometheus_config({"scrape_configs": {"job_name": "x"}}, BASE, endpoints())


def test_external_targets_of_the_committed_file() -> None:
    committed = yaml.safe_load(COMMITTED.read_text())
    assert external_targets(committed) == ["127.0.0.1:15692"]


@pytest.mark.parametrize("am_port", [19093, None], ids=["with-alertmanager", "without-alertmanager"])
def test_generated_config_passes_promtool(tmp_path: Path, am_port: int | None) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: apt-get install -y --no-install-recommends prometheus")
    targets = tmp_path / "state" / "prometheus" / "targets.json"
    targets.parent.mkdir(parents=True)
    targets.write_text('[{"targets": ["127.0.0.1:41001"], "labels": {"service": "processor"}}]\n')
    committed = yaml.safe_load(COMMITTED.read_text())
    doc = prometheus_config(
        committed,
        COMMITTED_DIR,
        LocalEndpoints(
            prometheus_port=19090, alertmanager_port=am_port, admin_port=18091, targets_file=targets
        ),
        unreachable=["127.0.0.1:15692"],
    )
    generated = tmp_path / "elsewhere" / "prometheus.yml"  # not beside the rules: every path must be absolute
    generated.parent.mkdir()
    generated.write_text(render_yaml(doc, COMMITTED))
    result = subprocess.run(
        [promtool, "check", "config", str(generated)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "5 rules found" in output
    assert "WARNING" not in output  # the targets file was found
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert set(jobs) == {"prometheus", "functions", "knlocal"}
    assert jobs["knlocal"]["static_configs"][0]["targets"] == ["127.0.0.1:18091"]
    assert jobs["functions"]["file_sd_configs"][0]["files"] == [str(targets)]
    assert ("alerting" in doc) == (am_port is not None)


def test_settings_defaults_and_overrides() -> None:
    default = RuntimeConfig.from_env({}, repo_root=Path("/repo"))
    assert (default.observability, default.prometheus_port, default.alertmanager_port) == (True, 9090, 9093)
    cfg = RuntimeConfig.from_env(
        {
            "KNLOCAL_OBSERVABILITY": "OFF",
            "KNLOCAL_PROMETHEUS_PORT": "0",
            "KNLOCAL_ALERTMANAGER_PORT": "19093",
        },
        repo_root=Path("/repo"),
    )
    assert (cfg.observability, cfg.prometheus_port, cfg.alertmanager_port) == (False, 0, 19093)
    assert RuntimeConfig.from_env({"KNLOCAL_OBSERVABILITY": "on"}).observability is True


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KNLOCAL_OBSERVABILITY", "maybe"),
        ("KNLOCAL_OBSERVABILITY", "1"),
        ("KNLOCAL_PROMETHEUS_PORT", "65536"),
        ("KNLOCAL_PROMETHEUS_PORT", "-1"),
        ("KNLOCAL_ALERTMANAGER_PORT", "ninety"),
    ],
)
def test_bad_settings_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RuntimeConfig.from_env({variable: value}, repo_root=Path("/repo"))
    assert caught.value.variable == variable
    assert variable in str(caught.value)
