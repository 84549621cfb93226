"""Vectors for the timeline verdict: which store disagreements are errors, warnings or information."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.readmodel.timeline import current_generation, entries, findings, timeline

JOB = "0b6f1c3a-5c1e-4f0b-9a47-3d1f2b7c8e90"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)  # long after everything: differences are no longer "in flight"


def row(
    status: str, generation: int = 0, finished: datetime | None = T0 + timedelta(seconds=2)
) -> dict[str, Any]:
    terminal = status in ("COMPLETED", "FAILED", "DEAD_LETTERED")
    return {"id": JOB, "status": status, "generation": generation, "attempts": 1, "created_at": T0,
            "started_at": T0 + timedelta(seconds=1), "finished_at": finished if terminal else None,
            "updated_at": finished or T0}  # fmt: skip


def ev(phase: str, second: int, generation: int | None = None, valid: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"jobId": JOB}
    if generation is not None:
        data["generation"] = generation
    return {"source": "/s", "id": f"{phase}{second}", "type": f"dev.observatory.job.{phase}",
            "time": T0 + timedelta(seconds=second), "jobid": JOB, "data": data, "valid": valid}  # fmt: skip


def marks(status: str) -> dict[str, str]:
    return {"status": status, "submitted_at": str(int(T0.timestamp() * 1000))}


HAPPY = [ev("submitted", 0, 0), ev("started", 1), ev("completed", 2)]

CASES: list[tuple[str, Any, list[dict[str, Any]], dict[str, str], list[dict[str, Any]], datetime, list[tuple[str, str]]]] = [
    ("all agree", row("COMPLETED"), HAPPY, marks("COMPLETED"), [], LATER, []),
    ("completed row, no completed event", row("COMPLETED"), HAPPY[:2], marks("COMPLETED"), [], LATER,
     [("error", "COMPLETED in PostgreSQL but no completed event in the audit trail")]),
    ("same, but just finished: in flight", row("COMPLETED"), HAPPY[:2], marks("COMPLETED"), [],
     T0 + timedelta(seconds=5), [("warning", "COMPLETED in PostgreSQL but no completed event in the audit trail")]),
    ("completed event, row still executing", row("EXECUTING"), HAPPY, marks("COMPLETED"), [], LATER,
     [("error", "completed event in the audit trail but PostgreSQL says EXECUTING"),
      ("error", "Redis shows COMPLETED, ahead of PostgreSQL EXECUTING")]),
    ("failed event but row completed", row("COMPLETED"), [*HAPPY, ev("failed", 3)], marks("COMPLETED"), [], LATER,
     [("error", "failed event in the audit trail but PostgreSQL says COMPLETED")]),
    ("redis lags", row("COMPLETED"), HAPPY, marks("EXECUTING"), [], LATER,
     [("error", "Redis shows EXECUTING but PostgreSQL says COMPLETED")]),
    ("no redis markers", row("COMPLETED"), HAPPY, {}, [], LATER,
     [("warning", "no Redis markers for this job (expired, or its events were never counted)")]),
    ("dead-lettered row without a dead letter", row("DEAD_LETTERED"), HAPPY[:2], marks("DEAD_LETTERED"), [], LATER,
     [("error", "DEAD_LETTERED in PostgreSQL but no dead letter recorded")]),
    ("dead letter waiting, row pending", row("PENDING"), HAPPY[:1], marks("PENDING"),
     [{"receivedAt": T0 + timedelta(seconds=9)}], LATER,
     [("warning", "dead letter not replayed while PostgreSQL says PENDING")]),
    ("events but no row", None, HAPPY[:1], marks("PENDING"), [], LATER,
     [("error", "events in the audit trail but no PostgreSQL row")]),
    ("invalid event", row("COMPLETED"), [*HAPPY[:2], ev("completed", 2, valid=False)], marks("COMPLETED"), [], LATER,
     [("warning", "1 event(s) in the audit trail break their contract")]),
    ("replayed: old generation's failure is not compared, redis is info only",
     row("COMPLETED", generation=1, finished=T0 + timedelta(seconds=12)),
     [ev("submitted", 0, 0), ev("failed", 2), ev("submitted", 10, 1), ev("completed", 12)],
     marks("FAILED"), [], LATER,
     [("info", "Redis shows FAILED: live markers only move forward and ignore replays")]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "job", "events", "markers", "letters", "now", "expected"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_findings(
    name: str, job: Any, events: list[dict[str, Any]], markers: dict[str, str],
    letters: list[dict[str, Any]], now: datetime, expected: list[tuple[str, str]],
) -> None:  # fmt: skip
    assert [(f.severity, f.message) for f in findings(job, events, markers, letters, now)] == expected


def test_verdict_summary_and_consistency() -> None:
    ok = timeline(JOB, row("COMPLETED"), HAPPY, marks("COMPLETED"), [], LATER)
    assert ok["verdict"]["consistent"] is True
    bad = timeline(JOB, row("COMPLETED"), HAPPY[:2], marks("COMPLETED"), [], LATER)
    assert bad["verdict"]["consistent"] is False
    assert bad["verdict"]["summary"] == "COMPLETED in PostgreSQL but no completed event in the audit trail"


def test_entries_are_in_time_order_across_stores() -> None:
    found = entries(row("COMPLETED"), list(reversed(HAPPY)), marks("COMPLETED"),
                    [{"receivedAt": T0 + timedelta(seconds=3), "replayedAt": T0 + timedelta(seconds=4)}])  # fmt: skip
    assert [e["time"] for e in found] == sorted(e["time"] for e in found)
    assert [e["store"] for e in found][:3] == ["postgresql", "audit", "redis"]  # same instant: store order
    assert found[-1]["what"] == "replayed"


def test_current_generation_starts_at_its_submission() -> None:
    events = [ev("submitted", 0, 0), ev("failed", 2), ev("submitted", 10, 1), ev("completed", 12)]
    assert [e["id"] for e in current_generation(events, 1)] == ["submitted10", "completed12"]
    assert len(current_generation(events, 0)) == 4
    assert len(current_generation(events, 5)) == 4  # unseen submission: compare everything
