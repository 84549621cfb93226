"""The whole pipeline through the local runtime: gateway -> broker -> processor/aggregator/deadletter -> stores.

Every wait is a deadline loop on an observable state; nothing asserts on elapsed time.
Tests in this module share one runtime and run in file order (the scale-to-zero ones rely on the
runtime being idle between bursts, which each test establishes itself).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningRuntime, wait_for

pytestmark = pytest.mark.e2e

TERMINAL = ("COMPLETED", "FAILED", "DEAD_LETTERED")


def submit(
    runtime: RunningRuntime, jobs: list[tuple[str, dict[str, Any]]], concurrency: int = 32
) -> list[str]:
    """POST every job to the gateway with a fresh id; all must be accepted; returns the job ids."""

    async def run() -> list[str]:
        slots = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=120) as client:

            async def one(job_type: str, payload: dict[str, Any]) -> str:
                job_id = str(uuid.uuid4())
                async with slots:
                    resp = await client.post(
                        runtime.gateway_url + "/jobs",
                        json={"id": job_id, "type": job_type, "payload": payload},
                    )
                # A fresh id is never a duplicate, even when the processor runs the job before the gateway
                # has recorded it.
                assert resp.status_code == 202, resp.text
                assert resp.json()["jobId"] == job_id and resp.json()["duplicate"] is False
                return job_id

            return await asyncio.gather(*(one(t, p) for t, p in jobs))

    return asyncio.run(run())


def statuses(runtime: RunningRuntime, ids: list[str]) -> dict[str, str]:
    rows = runtime.pg("SELECT id::text, status FROM jobs WHERE id = ANY(%s::uuid[])", ids)
    return {r[0]: r[1] for r in rows}


def all_terminal(runtime: RunningRuntime, ids: list[str]) -> dict[str, str] | None:
    found = statuses(runtime, ids)
    return found if len(found) == len(ids) and all(s in TERMINAL for s in found.values()) else None


def idle_at_zero(runtime: RunningRuntime, service: str) -> bool:
    s = runtime.service(service)
    return bool(s["desired"] == 0 and s["actual"] == 0 and s["in_flight"] == 0)


def test_mixed_jobs_all_terminal_and_stores_agree(runtime: RunningRuntime) -> None:
    kinds: list[tuple[str, dict[str, Any], str]] = [
        ("echo", {"message": "hi"}, "COMPLETED"),
        ("hash", {"data": "hello", "rounds": 1000}, "COMPLETED"),
        ("wordcount", {"text": "the quick brown fox"}, "COMPLETED"),
        ("sleep", {"seconds": 0.05}, "COMPLETED"),
        ("flaky", {"failureRate": 0}, "COMPLETED"),
        ("fail", {"message": "no"}, "FAILED"),
    ]
    jobs = [(kinds[i % len(kinds)][0], kinds[i % len(kinds)][1]) for i in range(500)]
    expected = Counter(kinds[i % len(kinds)][2] for i in range(500))
    ids = submit(runtime, jobs)
    assert len(set(ids)) == 500

    final = wait_for("500 jobs terminal in PostgreSQL", lambda: all_terminal(runtime, ids), 600, 1.0)
    assert Counter(final.values()) == expected

    def redis_agrees() -> dict[str, int] | None:
        raw: dict[str, str] = runtime.redis.hgetall(runtime.redis_prefix + "totals")  # type: ignore[assignment]
        totals = {str(k): int(v) for k, v in raw.items()}
        return totals if all(totals.get(status, 0) == n for status, n in expected.items()) else None

    wait_for("Redis totals match PostgreSQL", redis_agrees, 120)

    def mongo_agrees() -> bool:
        events = runtime.mongo_db["job_events"]
        completed = events.count_documents({"type": "dev.observatory.job.completed", "jobid": {"$in": ids}})
        failed = events.count_documents({"type": "dev.observatory.job.failed", "jobid": {"$in": ids}})
        submitted = events.count_documents({"type": "dev.observatory.job.submitted", "jobid": {"$in": ids}})
        return bool(completed == expected["COMPLETED"] and failed == expected["FAILED"] and submitted == 500)

    wait_for("MongoDB audit trail matches PostgreSQL", mongo_agrees, 120)


def test_triggers_route_only_their_types(runtime: RunningRuntime) -> None:
    # Runs right after the mixed batch, before any failure test: no redeliveries yet, so each trigger's
    # delivery count equals the number of events of exactly its filtered type.
    def per_trigger() -> dict[str, tuple[int, int]]:
        rows = {t["name"].split("/")[-1]: t for t in runtime.admin()["triggers"]}
        events = runtime.mongo_db["job_events"]
        seen = {
            phase: events.count_documents({"type": f"dev.observatory.job.{phase}"})
            for phase in ("submitted", "started", "completed", "failed")
        }
        pairs = {f"aggregator-{p}": (rows[f"aggregator-{p}"]["delivered"], n) for p, n in seen.items()}
        pairs["processor"] = (rows["processor"]["delivered"], seen["submitted"])
        return pairs

    def settled() -> dict[str, tuple[int, int]] | None:
        pairs = per_trigger()
        return pairs if all(delivered == stored for delivered, stored in pairs.values()) else None

    pairs = wait_for("per-trigger deliveries equal the stored events of their type", settled, 60)
    assert pairs["aggregator-submitted"][1] == 500
    assert pairs["aggregator-failed"][1] > 0


def test_retryable_failure_is_dead_lettered_with_error_extensions(runtime: RunningRuntime) -> None:
    [job_id] = submit(runtime, [("fail", {"message": "try again", "retryable": True})])
    final = wait_for("job dead-lettered", lambda: all_terminal(runtime, [job_id]), 180)
    assert final[job_id] == "DEAD_LETTERED"
    letter = wait_for(
        "dead letter stored", lambda: runtime.mongo_db["dead_letters"].find_one({"jobid": job_id}), 60
    )
    processor_url = runtime.service("processor")["url"]
    assert letter["knativeerrordest"].startswith(processor_url)
    assert 500 <= int(letter["knativeerrorcode"]) <= 599
    assert letter["type"] == "dev.observatory.job.submitted"
    assert runtime.admin()["dead_letters"]["dead_lettered"] >= 1


def test_burst_scales_processor_out_then_back_to_zero(runtime: RunningRuntime) -> None:
    peak = {"actual": 0}

    ids: list[str] = []

    def scaled_out() -> bool:
        peak["actual"] = max(peak["actual"], runtime.service("processor")["actual"])
        return peak["actual"] > 1

    # Long enough jobs that the dispatcher's 8 parallel deliveries keep more than target (7) in flight.
    ids = submit(runtime, [("sleep", {"seconds": 1.0})] * 120)
    wait_for("processor above one instance", scaled_out, 120, 0.25)
    wait_for("burst finished", lambda: all_terminal(runtime, ids), 300, 1.0)
    wait_for("processor back to zero", lambda: idle_at_zero(runtime, "processor"), 120, 0.5)


def test_request_at_zero_instances_is_served(runtime: RunningRuntime) -> None:
    wait_for("processor at zero", lambda: idle_at_zero(runtime, "processor"), 120, 0.5)
    [job_id] = submit(runtime, [("echo", {"message": "wake up"})])
    final = wait_for("job completed after a scale from zero", lambda: all_terminal(runtime, [job_id]), 180)
    assert final[job_id] == "COMPLETED"


def test_killing_an_instance_mid_request_loses_no_accepted_job(runtime: RunningRuntime) -> None:
    ids = submit(runtime, [("sleep", {"seconds": 0.5})] * 60)

    def busy_instance() -> dict[str, Any] | None:
        for inst in runtime.service("processor").get("instances", []):
            if inst["state"] == "ready" and inst["in_flight"] > 0:
                return dict(inst)
        return None

    victim = wait_for("a processor instance with requests in flight", busy_instance, 120, 0.1)
    restarts_before = runtime.service("processor")["restarts"]
    os.killpg(int(victim["pid"]), signal.SIGKILL)
    final = wait_for("every accepted job terminal", lambda: all_terminal(runtime, ids), 300, 1.0)
    assert Counter(final.values()) == Counter({"COMPLETED": 60})
    assert runtime.service("processor")["restarts"] > restarts_before
