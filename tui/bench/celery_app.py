"""The Celery baseline: the processor's own job handler and the same PostgreSQL write, one commit per task.

Loaded by ``celery -A tui.bench.celery_app worker`` (prefork, concurrency 2, as in DESIGN's baseline) and
by the bench to send tasks. Settings come from the environment so the worker and the sender agree:
``RABBITMQ_URL`` (the broker), ``OBS_BENCH_CELERY_QUEUE`` (a queue of this run only) and
``OBS_BENCH_CELERY_DATABASE_URL`` (a database migrated with the project's own migrations).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import psycopg
from celery import Celery
from psycopg.types.json import Jsonb

from functions.processor.registry import Handler, load_handler

QUEUE = os.environ.get("OBS_BENCH_CELERY_QUEUE", "obs_bench_celery")
TASK = "obs_bench.run_job"

app = Celery("obs_bench", broker=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_acks_late=True,  # acknowledged after the write, as the broker's dispatcher acks after the reply
)

# The same row the processor's finish writes for a completed job (functions/core/stores/postgres.py).
FINISH = """
INSERT INTO jobs AS j (id, type, status, status_rank, payload, result, attempts, generation,
                       started_at, finished_at)
VALUES (%(id)s, %(type)s, 'COMPLETED', 2, %(payload)s, %(result)s, 1, 0, %(started)s, now())
ON CONFLICT (id) DO UPDATE
   SET status = 'COMPLETED', status_rank = 2, result = EXCLUDED.result, finished_at = now(), updated_at = now()
 WHERE j.status_rank < 2
"""

_conn: psycopg.Connection[Any] | None = None
_handlers: dict[str, Handler] = {}


def _connection() -> psycopg.Connection[Any]:
    # One connection per worker process, opened on its first task (prefork children must not share one).
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["OBS_BENCH_CELERY_DATABASE_URL"], autocommit=True)
    return _conn


@app.task(name=TASK)  # type: ignore[untyped-decorator]
def run_job(job_id: str, job_type: str, payload: dict[str, Any]) -> None:
    started = datetime.now(UTC)
    handler = _handlers.get(job_type) or _handlers.setdefault(job_type, load_handler(job_type))
    result = handler.run(payload)  # the job types the baseline uses are synchronous
    _connection().execute(
        FINISH,
        {
            "id": job_id,
            "type": job_type,
            "payload": Jsonb(payload),
            "result": Jsonb(result),
            "started": started,
        },
    )
