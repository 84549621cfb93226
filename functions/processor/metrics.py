"""Prometheus metrics of the processor."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from functions.core.contracts import default_registry

PROCESSED = Counter(
    "processor_jobs_processed_total", "Handler runs started (one per won claim), by job type.", ["type"]
)
COMPLETED = Counter("processor_jobs_completed_total", "Jobs that ended COMPLETED, by job type.", ["type"])
FAILED = Counter(
    "processor_jobs_failed_total",
    "Handler runs that failed, by job type, error code and whether the broker will retry.",
    ["type", "code", "retryable"],
)
VALIDATION_FAILED = Counter(
    "processor_jobs_validation_failed_total", "Incoming events refused as invalid (kept in invalid_events)."
)
DUPLICATES = Counter(
    "processor_duplicate_deliveries_total",
    "Deliveries of a job that was already running or finished (nothing was run), by outcome.",
    ["outcome"],
)
PROCESSING_SECONDS = Histogram(
    "processor_job_processing_seconds",
    "Time a handler ran, by job type and final status.",
    ["type", "status"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
STARTED_NOT_PUBLISHED = Counter(
    "processor_started_events_unpublished_total",
    "job.started events that could not be published (K_SINK unset or unavailable).",
)


def _prime() -> None:
    # Every job type exists from start-up at 0, so increase()/rate() see the first job of a type. Failures
    # are not primed: their error codes are open-ended.
    for job_type in default_registry().job_types():
        PROCESSED.labels(job_type)
        COMPLETED.labels(job_type)


_prime()
