"""One job seen through all four stores, merged in time order, with a consistency verdict. Pure.

PostgreSQL is authoritative; the audit trail and Redis follow it asynchronously (through the broker and
the aggregator), so a difference younger than ``IN_FLIGHT_S`` is reported as a warning ("may still be
in flight") and an older one as an error. Replays start a new generation: only the events of the
current generation are compared with the row, and Redis markers, which only move forward, are not
expected to follow a replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from functions.core.jobs import EVENT_PREFIX, JobStatus
from functions.readmodel.views import event_view, iso, jsonable

IN_FLIGHT_S = 30
Severity = Literal["error", "warning", "info"]
_TERMINAL_PHASE = {JobStatus.COMPLETED: "completed", JobStatus.FAILED: "failed"}
_PHASE_STATUS = {"completed": JobStatus.COMPLETED, "failed": JobStatus.FAILED}
_STORE_ORDER = {"postgresql": 0, "audit": 1, "redis": 2, "deadletters": 3}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    message: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _entry(when: datetime, store: str, what: str, detail: Any = None) -> dict[str, Any]:
    return {"time": _aware(when), "store": store, "what": what, "detail": detail}


def _phase(event_type: object) -> str | None:
    text = str(event_type or "")
    return text.removeprefix(EVENT_PREFIX) if text.startswith(EVENT_PREFIX) else None


def current_generation(events: Sequence[Mapping[str, Any]], generation: int) -> list[Mapping[str, Any]]:
    """The events since the submission of ``generation`` (all of them when that submission is unseen)."""
    ordered = sorted(events, key=lambda e: _aware(e["time"]))
    start = None
    for event in ordered:
        data = event.get("data")
        if (
            _phase(event.get("type")) == "submitted"
            and isinstance(data, Mapping)
            and data.get("generation") == generation
        ):
            start = _aware(event["time"])
    return ordered if start is None or generation == 0 else [e for e in ordered if _aware(e["time"]) >= start]


def entries(
    row: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    markers: Mapping[str, str],
    dead_letters: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if row is not None:
        for column, what in (("created_at", "row created"), ("started_at", "started"),
                             ("finished_at", f"finished {row['status']}"), ("updated_at", "last updated")):  # fmt: skip
            if row.get(column) is not None:
                detail = {
                    "status": row["status"],
                    "generation": row["generation"],
                    "attempts": row["attempts"],
                }
                found.append(_entry(row[column], "postgresql", what, detail))
    for event in events:
        view = event_view(event)
        found.append(_entry(event["time"], "audit", str(event.get("type")), view))
    for name, value in markers.items():
        if name.endswith("_at") and value.lstrip("-").isdigit():
            found.append(_entry(datetime.fromtimestamp(int(value) / 1000, UTC), "redis", name[:-3], None))
    for letter in dead_letters:
        received = letter.get("receivedAt")
        if isinstance(received, datetime):
            found.append(_entry(received, "deadletters", "dead-lettered", jsonable(
                {k: letter.get(k) for k in ("type", "id", "knativeerrorcode", "errorCode", "reason")}
            )))  # fmt: skip
        replayed = letter.get("replayedAt")
        if isinstance(replayed, datetime):
            found.append(
                _entry(replayed, "deadletters", "replayed", {"replayCount": letter.get("replayCount")})
            )
    found.sort(key=lambda e: (e["time"], _STORE_ORDER[e["store"]]))
    for entry in found:
        entry["time"] = iso(entry["time"])
    return found


def _lag(severity_if_old: Severity, since: datetime | None, now: datetime) -> Severity:
    if since is not None and now - _aware(since) < timedelta(seconds=IN_FLIGHT_S):
        return "warning"
    return severity_if_old


def findings(
    row: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    markers: Mapping[str, str],
    dead_letters: Sequence[Mapping[str, Any]],
    now: datetime,
) -> list[Finding]:
    out: list[Finding] = []
    invalid = [e for e in events if e.get("valid") is False]
    if invalid:
        out.append(Finding("warning", f"{len(invalid)} event(s) in the audit trail break their contract"))
    if row is None:
        if events:
            newest = max(_aware(e["time"]) for e in events)
            out.append(Finding(_lag("error", newest, now), "events in the audit trail but no PostgreSQL row"))
        return out

    status = JobStatus(row["status"])
    generation = int(row["generation"])
    current = current_generation(events, generation)
    phases = {_phase(e.get("type")) for e in current}
    changed = row.get("finished_at") or row.get("updated_at")

    expected = _TERMINAL_PHASE.get(status)
    if expected and expected not in phases:
        out.append(Finding(
            _lag("error", changed, now), f"{status} in PostgreSQL but no {expected} event in the audit trail"
        ))  # fmt: skip
    if status is JobStatus.DEAD_LETTERED and not dead_letters and "deadlettered" not in phases:
        out.append(
            Finding(_lag("error", changed, now), "DEAD_LETTERED in PostgreSQL but no dead letter recorded")
        )
    for phase, implied in _PHASE_STATUS.items():
        if phase in phases and status is not implied:
            severity: Severity = "error" if status.terminal else _lag("error", changed, now)
            out.append(Finding(severity, f"{phase} event in the audit trail but PostgreSQL says {status}"))

    live = markers.get("status")
    if events and not live:
        out.append(
            Finding("warning", "no Redis markers for this job (expired, or its events were never counted)")
        )
    elif live and live != status:
        live_status = JobStatus(live) if live in JobStatus.__members__ else None
        if generation > 0:
            out.append(
                Finding("info", f"Redis shows {live}: live markers only move forward and ignore replays")
            )
        elif live_status is not None and live_status.rank > status.rank:
            out.append(Finding("error", f"Redis shows {live}, ahead of PostgreSQL {status}"))
        else:
            out.append(
                Finding(_lag("error", changed, now), f"Redis shows {live} but PostgreSQL says {status}")
            )

    pending_letters = [d for d in dead_letters if not d.get("replayedAt")]
    if pending_letters and status in (JobStatus.PENDING, JobStatus.EXECUTING):
        out.append(Finding("warning", f"dead letter not replayed while PostgreSQL says {status}"))
    elif pending_letters and status is JobStatus.COMPLETED:
        out.append(Finding("info", "an event of this job was dead-lettered although the job completed"))
    return out


def timeline(
    job_id: str,
    row: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    markers: Mapping[str, str],
    dead_letters: Sequence[Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    found = findings(row, events, markers, dead_letters, now)
    problems = [f for f in found if f.severity != "info"]
    return {
        "jobId": job_id,
        "status": None if row is None else row["status"],
        "generation": None if row is None else row["generation"],
        "entries": entries(row, events, markers, dead_letters),
        "verdict": {
            "consistent": not problems,
            "summary": problems[0].message
            if problems
            else "PostgreSQL, the audit trail, Redis and the dead letters agree",
            "findings": [{"severity": f.severity, "message": f.message} for f in found],
        },
    }
