"""Prometheus metrics of the dead-letter sink."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter(
    "deadletter_events_total", "Dead-lettered events stored (each source+id once), by event type.", ["type"]
)
JOBS_MARKED = Counter("deadletter_jobs_marked_total", "Jobs moved to DEAD_LETTERED in PostgreSQL.")
