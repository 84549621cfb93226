"""Prometheus and Alertmanager run by the local runtime, against its real function instances.

One runtime (tests/e2e/conftest.py) with Prometheus and Alertmanager on free ports and a long
scale-to-zero grace, so every function that took traffic is still a target when the checks run. A few
jobs go through it (completed, failed, dead-lettered, one rejected), then:

(a) every metric the alert rules and the dashboard query, as METRICS.md lists its exporter, has samples on
    /metrics of that exporter's running instances (found in targets.json) or of the runtime's admin port;
(b) Prometheus scrapes those targets (all up) and answers queries with the jobs' counts;
(c) DeadLettersPresent, the real rule (no ``for:``), fires: Alertmanager holds it and the read model's
    /alerts lists it.

Every wait is a deadline loop on an observable state; nothing asserts on elapsed time.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import RunningRuntime, wait_for
from tests.integration.test_observability_configs import (
    METRICS_MD,
    alert_rules,
    dashboard,
    exprs,
    family,
    metric_names,
)

pytestmark = pytest.mark.e2e

FUNCTIONS = ("gateway", "processor", "aggregator", "readmodel", "deadletter")
NOT_SCRAPED_HERE = ("rabbitmq", "prometheus")  # RabbitMQ's plugin; `up` is Prometheus' own (checked in (b))
DEAD_LETTER_TYPE = "dev.observatory.job.submitted"


@pytest.fixture(scope="module")
def runtime_env_overrides() -> dict[str, str]:
    return {
        "KNLOCAL_OBSERVABILITY": "on",
        "KNLOCAL_PROMETHEUS_PORT": "0",
        "KNLOCAL_ALERTMANAGER_PORT": "0",
        # Instances outlive the checks: a scaled-to-zero function has nothing to scrape, and the dead-letter
        # sink must have been scraped once before the dead letter that (c) expects to raise the alert.
        "KNLOCAL_SCALE_TO_ZERO_GRACE": "10m",
    }


# -- helpers ---------------------------------------------------------------------------------------


def observability(runtime: RunningRuntime) -> dict[str, Any]:
    """The admin document's observability part, once both Prometheus and Alertmanager are ready."""

    def ready() -> dict[str, Any] | None:
        doc: dict[str, Any] = runtime.admin()["observability"]
        for name in ("prometheus", "alertmanager"):
            note = doc[name]["note"]
            assert note is None, f"{name} does not run: {note} (scripts/setup.sh installs it)"
        return doc if all(doc[n]["state"] == "ready" for n in ("prometheus", "alertmanager")) else None

    return wait_for("Prometheus and Alertmanager ready", ready, 60)


def submit(runtime: RunningRuntime, job_type: str, payload: dict[str, Any]) -> str:
    job_id = str(uuid.uuid4())
    resp = httpx.post(
        runtime.gateway_url + "/jobs", json={"id": job_id, "type": job_type, "payload": payload}, timeout=60
    )
    assert resp.status_code in (200, 202), resp.text
    return job_id


def terminal(runtime: RunningRuntime, ids: list[str]) -> dict[str, str] | None:
    rows = runtime.pg("SELECT id::text, status FROM jobs WHERE id = ANY(%s::uuid[])", ids)
    found = {r[0]: r[1] for r in rows}
    done = len(found) == len(ids) and all(
        s in ("COMPLETED", "FAILED", "DEAD_LETTERED") for s in found.values()
    )
    return found if done else None


def dead_letter(runtime: RunningRuntime) -> str:
    """A job that fails retryably until the broker dead-letters it; returns once the sink stored it."""
    job_id = submit(runtime, "fail", {"message": "try again", "retryable": True})
    final = wait_for("job dead-lettered", lambda: terminal(runtime, [job_id]), 180)
    assert final[job_id] == "DEAD_LETTERED"
    wait_for("dead letter stored", lambda: runtime.mongo_db["dead_letters"].find_one({"jobid": job_id}), 60)
    return job_id


def targets(runtime: RunningRuntime) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((runtime.state_dir / "prometheus" / "targets.json").read_text())
    return found


def scrape(url: str) -> set[str]:
    """The sample names (not just the families) exported at ``url``."""
    text = httpx.get(url, timeout=10).text
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def exporters() -> dict[str, tuple[str, str]]:
    """name -> (type, exporter), from METRICS.md's table."""
    rows = re.findall(
        r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| (counter|gauge|histogram) \|[^|]*\|\s*([^|]+?)\s*\|",
        Path(METRICS_MD).read_text(encoding="utf-8"),
        re.M,
    )
    return {name: (kind, exporter.strip()) for name, kind, exporter in rows}


def used_metrics(documented: dict[str, str]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(family(name, documented), set()).add(f"alert {rule['alert']}")
    for panel in dashboard()["panels"]:
        for expr in exprs(panel):
            for name in metric_names(expr):
                used.setdefault(family(name, documented), set()).add(f"panel {panel['title']!r}")
    return used


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    reply = httpx.get(prometheus + "/api/v1/query", params={"query": promql}, timeout=10).json()
    assert reply["status"] == "success", reply
    result: list[dict[str, Any]] = reply["data"]["result"]
    return result


# -- the traffic every check looks at ----------------------------------------------------------------


@pytest.fixture(scope="module")
def traffic(runtime: RunningRuntime) -> dict[str, Any]:
    obs = observability(runtime)
    jobs: list[tuple[str, dict[str, Any]]] = [
        ("echo", {"message": "one"}),
        ("echo", {"message": "two"}),
        ("hash", {"data": "abc"}),
        ("wordcount", {"text": "to be or not to be"}),
        ("flaky", {"failureRate": 0}),
        ("fail", {"message": "no"}),
    ]
    ids = [submit(runtime, job_type, payload) for job_type, payload in jobs]
    rejected = httpx.post(runtime.gateway_url + "/jobs", json={"type": "echo"}, timeout=30)
    assert rejected.status_code == 422, rejected.text
    first_letter = dead_letter(runtime)
    final = wait_for("jobs terminal", lambda: terminal(runtime, ids), 180)
    assert sorted(final.values()).count("FAILED") == 1
    return {"observability": obs, "ids": ids, "dead_letters": [first_letter]}


# -- (a) -------------------------------------------------------------------------------------------


def test_every_queried_metric_is_exported(runtime: RunningRuntime, traffic: dict[str, Any]) -> None:
    table = exporters()
    documented = {name: kind for name, (kind, _) in table.items()}
    used = used_metrics(documented)
    assert set(used) <= set(table), f"used but not in METRICS.md: {sorted(set(used) - set(table))}"

    def running_targets() -> dict[str, list[str]] | None:
        by_service: dict[str, list[str]] = {}
        for group in targets(runtime):
            labels = group["labels"]
            assert "job" not in labels, f"targets.json sets job (clashes with the scrape job): {group}"
            for target in group["targets"]:
                by_service.setdefault(labels["service"], []).append(
                    f"http://{target}{labels.get('__metrics_path__', '/metrics')}"
                )
        return by_service if set(by_service) >= set(FUNCTIONS) else None

    urls = wait_for("an instance of every function in targets.json", running_targets, 60)
    urls["knlocal"] = [runtime.admin_url + "/metrics"]
    exported = {service: set.union(*(scrape(u) for u in found)) for service, found in urls.items()}

    missing = []
    for name, where in sorted(used.items()):
        kind, exporter = table[name]
        if exporter in NOT_SCRAPED_HERE:
            continue
        sample = f"{name}_bucket" if kind == "histogram" else name
        services = FUNCTIONS if exporter == "*" else (exporter,)
        for service in services:
            if sample not in exported.get(service, set()):
                missing.append(
                    f"{sample} (exporter {exporter}) has no samples on {service} {urls.get(service)}; "
                    f"used by {', '.join(sorted(where))}"
                )
    assert missing == [], "\n".join(missing)


# -- (b) -------------------------------------------------------------------------------------------


def test_prometheus_scrapes_the_runtime_and_answers_queries(
    runtime: RunningRuntime, traffic: dict[str, Any]
) -> None:
    prometheus = traffic["observability"]["prometheus"]["url"]

    def all_up() -> list[dict[str, Any]] | None:
        active = httpx.get(prometheus + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        wanted = {t for group in targets(runtime) for t in group["targets"]}
        functions = {t["labels"]["instance"]: t for t in active if t["labels"]["job"] == "functions"}
        seen = {t["discoveredLabels"]["__address__"] for t in functions.values()}
        ours = [t for t in active if t["labels"]["job"] in ("functions", "knlocal", "prometheus")]
        if not wanted <= seen or any(t["health"] != "up" for t in ours):
            return None
        return ours

    active = wait_for("every runtime target up in Prometheus", all_up, 90)
    jobs = {t["labels"]["job"] for t in active}
    assert jobs == {"functions", "knlocal", "prometheus"}
    for target in active:
        assert target["labels"].get("service"), target["labels"]  # the alerts route on it

    services = wait_for(
        "up{job=functions} for every function",
        lambda: (
            found
            if (found := {r["metric"]["service"] for r in query(prometheus, 'up{job="functions"} == 1')})
            >= set(FUNCTIONS)
            else None
        ),
        60,
    )
    assert services >= set(FUNCTIONS)

    accepted = len(traffic["ids"]) + len(traffic["dead_letters"])
    wait_for(
        f"sum(gateway_jobs_accepted_total) >= {accepted}",
        lambda: any(
            float(r["value"][1]) >= accepted for r in query(prometheus, "sum(gateway_jobs_accepted_total)")
        ),
        60,
    )
    ready = wait_for(
        "knlocal_instances{state=ready} for the gateway",
        lambda: query(prometheus, 'knlocal_instances{service="gateway", state="ready"}'),
        60,
    )
    assert ready[0]["metric"]["service"] == "gateway"  # honor_labels kept the runtime's own label
    assert float(ready[0]["value"][1]) >= 1


# -- (c) -------------------------------------------------------------------------------------------


def test_dead_letters_raise_an_alert_seen_by_the_read_model(
    runtime: RunningRuntime, traffic: dict[str, Any]
) -> None:
    prometheus = traffic["observability"]["prometheus"]["url"]
    alertmanager = traffic["observability"]["alertmanager"]["url"]
    # The sink's instance was born for the first dead letter, so Prometheus first saw its counter at 1; only
    # a dead letter after a scrape is an increase() (METRICS.md: a series that appears at 1 looks like no change).
    wait_for(
        "the dead-letter sink scraped",
        lambda: query(prometheus, f'deadletter_events_total{{type="{DEAD_LETTER_TYPE}"}}'),
        60,
    )
    traffic["dead_letters"].append(dead_letter(runtime))

    def in_alertmanager() -> list[dict[str, Any]]:
        found = httpx.get(alertmanager + "/api/v2/alerts", params={"active": "true"}, timeout=10).json()
        return [
            a
            for a in found
            if a["labels"].get("alertname") == "DeadLettersPresent"
            and a["labels"].get("type") == DEAD_LETTER_TYPE
        ]

    [alert] = wait_for("DeadLettersPresent in Alertmanager", in_alertmanager, 120)
    assert alert["labels"]["severity"] == "warning" and alert["labels"]["service"] == "deadletter"

    def in_read_model() -> dict[str, Any] | None:
        doc: dict[str, Any] = httpx.get(runtime.readmodel_url + "/alerts", timeout=10).json()
        assert "error" not in doc, doc
        return doc if any(a["name"] == "DeadLettersPresent" for a in doc["alerts"]) else None

    doc = wait_for("DeadLettersPresent in the read model's /alerts", in_read_model, 60)
    assert doc["source"] == alertmanager
    [listed] = [a for a in doc["alerts"] if a["name"] == "DeadLettersPresent"]
    assert listed["summary"] == f"Dead letters of type {DEAD_LETTER_TYPE}"
    assert listed["state"] == "active"
