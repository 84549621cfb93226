"""The observability configuration, checked by the real tools: promtool and amtool (Debian's
prometheus and prometheus-alertmanager packages). Missing tools fail the test with the install
command; the dashboard and METRICS.md are checked structurally (no Grafana server exists here).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "platform" / "observability"
PROM = OBS / "prometheus"
RULES = PROM / "alert-rules.yml"
DASHBOARD = OBS / "grafana" / "dashboards" / "dto-main.json"
METRICS_MD = OBS / "METRICS.md"
INSTALL = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager"
REQUIRED_ALERTS = {
    "ServiceDown",
    "JobFailureRateHigh",
    "GatewayHighLatency",
    "QueueBacklogGrowing",
    "DeadLettersPresent",
}

# PromQL words that are not metric names: functions, aggregations, keywords and modifiers.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "absent",
    "absent_over_time", "clamp_min", "clamp_max", "label_replace", "label_join", "vector", "scalar", "time",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "changes", "resets",
    "predict_linear", "round", "ceil", "floor", "sort", "sort_desc", "inf", "nan",
}  # fmt: skip


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {INSTALL}")
    return path


def check(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, cwd=PROM, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


# ---- the tools ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-local.yml"])
def test_promtool_check_config(config: str) -> None:
    output = check(tool("promtool"), "check", "config", config)
    assert "SUCCESS" in output
    assert "5 rules found" in output


def test_local_targets_file_contract(tmp_path: Path) -> None:
    """The file_sd format METRICS.md asks knlocal to write is accepted where prometheus-local.yml looks."""
    prom = tmp_path / "platform" / "observability" / "prometheus"
    prom.mkdir(parents=True)
    for name in ("prometheus-local.yml", "alert-rules.yml"):
        shutil.copy(PROM / name, prom)
    targets = tmp_path / ".observatory" / "prometheus" / "targets.json"
    targets.parent.mkdir(parents=True)
    entries = [
        {"targets": ["127.0.0.1:41001", "127.0.0.1:41002"], "labels": {"service": "processor"}},
        {"targets": ["127.0.0.1:3000"], "labels": {"service": "gateway"}},
    ]
    targets.write_text(json.dumps(entries), encoding="utf-8")
    result = subprocess.run(
        [tool("promtool"), "check", "config", "prometheus-local.yml"],
        capture_output=True,
        text=True,
        cwd=prom,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output  # the file was found and parsed

    targets.write_text(json.dumps([{"targets": "127.0.0.1:1"}]), encoding="utf-8")
    result = subprocess.run(
        [tool("promtool"), "check", "config", "prometheus-local.yml"],
        capture_output=True,
        text=True,
        cwd=prom,
    )
    assert result.returncode != 0, "a malformed targets file must be rejected"


def test_promtool_check_rules() -> None:
    assert "SUCCESS: 5 rules found" in check(tool("promtool"), "check", "rules", "alert-rules.yml")


def test_promtool_test_rules() -> None:
    assert "SUCCESS" in check(tool("promtool"), "test", "rules", "alert-rules.test.yml")


def test_promtool_tests_catch_a_broken_threshold(tmp_path: Path) -> None:
    """The unit tests can fail: loosen one threshold in a copy and promtool must report it."""
    shutil.copy(PROM / "alert-rules.test.yml", tmp_path)
    broken = RULES.read_text(encoding="utf-8").replace("> 0.05", "> 0.5")
    assert broken != RULES.read_text(encoding="utf-8")
    (tmp_path / "alert-rules.yml").write_text(broken, encoding="utf-8")
    result = subprocess.run(
        [tool("promtool"), "test", "rules", "alert-rules.test.yml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "JobFailureRateHigh" in result.stdout + result.stderr


def test_amtool_check_config() -> None:
    output = check(tool("amtool"), "check-config", str(OBS / "alertmanager" / "alertmanager.yml"))
    assert "SUCCESS" in output


# ---- alert rules and their tests ---------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_required_alerts_have_severity_and_service() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= REQUIRED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["labels"].get("service"), rule["alert"]


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    doc = yaml.safe_load((PROM / "alert-rules.test.yml").read_text(encoding="utf-8"))
    fires: set[str] = set()
    silent: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - fires == set(), "alerts never expected to fire"
    assert names - silent == set(), "alerts never expected to stay silent"


def test_alertmanager_routes_and_inhibits() -> None:
    doc = yaml.safe_load((OBS / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
    assert doc["route"]["group_by"] == ["alertname", "service"]
    (rule,) = doc["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"']
    assert rule["target_matchers"] == ['severity="warning"']
    assert "service" in rule["equal"]
    for receiver in doc["receivers"]:  # nothing leaves the machine
        assert set(receiver) <= {"name", "webhook_configs"}


# ---- dashboard ---------------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def exprs(panel: dict[str, Any]) -> list[str]:
    return [str(t["expr"]) for t in panel.get("targets", [])]


def test_dashboard_identity_and_required_panels() -> None:
    dash = dashboard()
    assert dash["uid"] == "dto-main"
    assert dash["title"] == "Distributed Task Observatory"
    panels = {p["title"]: p for p in dash["panels"]}
    required = {
        "Jobs Submitted": "gateway_jobs_submitted_total",
        "Jobs Accepted": "gateway_jobs_accepted_total",
        "Jobs Completed": "processor_jobs_completed_total",
        "Jobs Failed": "processor_jobs_failed_total",
        "Job Throughput": "rate(",
        "Queue Depth": "rabbitmq_queue_messages_ready",
        "Dead Letters by Type": "deadletter_events_total",
        "Instances per Function": "knlocal_instances",
    }
    for title, fragment in required.items():
        assert title in panels, title
        assert any(fragment in e for e in exprs(panels[title])), title
    latency = " ".join(exprs(panels["Job Processing Latency"]))
    for quantile in ("0.50", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, " in latency
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}


def test_dashboard_datasource_uid_is_provisioned() -> None:
    doc = yaml.safe_load((OBS / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert [d["uid"] for d in doc["datasources"]] == ["prometheus"]


# ---- METRICS.md --------------------------------------------------------------------------------------


def documented_metrics() -> dict[str, str]:
    """name -> type, from the table rows of METRICS.md."""
    rows = re.findall(
        r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| (counter|gauge|histogram) \|", METRICS_MD.read_text(), re.M
    )
    return dict(rows)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not words, labels or durations."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    stripped = re.sub(r"\{[^}]*\}", "", stripped)  # matchers
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # ranges
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped))
    return {n for n in names if n.lower() not in PROMQL_WORDS and not re.fullmatch(r"[0-9.e]+", n)}


def family(name: str, documented: dict[str, str]) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and documented.get(base) == "histogram":
            return base
    return name


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(http_request_duration_seconds_bucket{function="gateway"}[5m])) > 1', {"http_request_duration_seconds_bucket"}),
        ("count by (service) (up{job=\"functions\"} == 1)", {"up"}),
        ("a_total / (b_total + a_total) > 0.05 and on(queue) c", {"a_total", "b_total", "c"}),
    ],
)  # fmt: skip
def test_metric_name_extraction(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_every_queried_metric_is_documented() -> None:
    documented = documented_metrics()
    assert len(documented) >= 14
    used: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(family(name, documented), set()).add(f"alert {rule['alert']}")
    for panel in dashboard()["panels"]:
        for expr in exprs(panel):
            for name in metric_names(expr):
                used.setdefault(family(name, documented), set()).add(f"panel {panel['title']}")
    missing = {name: sorted(where) for name, where in used.items() if name not in documented}
    assert missing == {}
    # And the reverse: a documented metric nobody queries is dead weight in the exporters' contract.
    assert set(documented) - set(used) == set()
