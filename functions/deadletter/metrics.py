"""Prometheus metrics of the dead-letter sink."""

from __future__ import annotations

from prometheus_client import Counter

from functions.core.contracts import default_registry

EVENTS = Counter(
    "deadletter_events_total", "Dead-lettered events stored (each source+id once), by event type.", ["type"]
)
JOBS_MARKED = Counter("deadletter_jobs_marked_total", "Jobs moved to DEAD_LETTERED in PostgreSQL.")


def _prime() -> None:
    # Every CloudEvent type exists from start-up at 0, so increase() sees the first dead letter of an
    # instance that was already scraped (DeadLettersPresent).
    for event_type in default_registry().event_types():
        EVENTS.labels(event_type)


_prime()
