"""The /jobs and /stream queries are served by indexes, not by scanning the table.

20k generated rows, ANALYZE, then EXPLAIN of exactly the SQL the read model runs (built by
``functions.readmodel.queries``), with the planner's default settings (no enable_seqscan tricks).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from readmodel_fixtures import Stores, stores_fixture  # noqa: F401 - the stores fixture

from functions.readmodel.params import job_query
from functions.readmodel.queries import changed_jobs_sql, jobs_sql

pytestmark = pytest.mark.integration
ROWS = 20_000
NEWEST = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def big_table(stores: Stores) -> Stores:
    stores.sql(
        """INSERT INTO jobs (id, type, status, status_rank, payload, created_at, updated_at)
           SELECT gen_random_uuid(),
                  (ARRAY['echo','hash','sleep','wordcount','fail','flaky'])[1 + mod(i, 6)],
                  s.status, s.rank,
                  jsonb_build_object('message', 'message number ' || i, 'rounds', mod(i, 100)),
                  %(newest)s - make_interval(secs => i),
                  %(newest)s - make_interval(secs => i)
             FROM generate_series(1, %(rows)s) AS i
             -- a realistic mix: mostly COMPLETED, a few percent in every other status
             CROSS JOIN LATERAL (SELECT CASE WHEN mod(i, 100) < 2 THEN 'PENDING' WHEN mod(i, 100) < 5 THEN 'EXECUTING'
                                             WHEN mod(i, 100) < 9 THEN 'FAILED' WHEN mod(i, 100) < 10 THEN 'DEAD_LETTERED'
                                             ELSE 'COMPLETED' END AS status,
                                        CASE WHEN mod(i, 100) < 2 THEN 0 WHEN mod(i, 100) < 5 THEN 1 ELSE 2 END AS rank) AS s""",
        {"newest": NEWEST, "rows": ROWS},
    )
    # VACUUM as well as ANALYZE: a GIN index built on an empty table keeps zeroed size statistics in its
    # metapage until a VACUUM refreshes them, and until then the planner prices the trigram index far
    # too high and scans the table. Autovacuum does this on a live table (insert threshold) — this is
    # the steady state, not a planner trick; enable_seqscan stays on (checked in plan()).
    stores.sql("VACUUM ANALYZE jobs")
    return stores


def plan(stores: Stores, sql: str, params: dict[str, Any]) -> str:
    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        assert conn.execute("SHOW enable_seqscan").fetchone() == ("on",)
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    return json.dumps(row[0])


CREATED, STATUS, TYPE = "jobs_created_id_idx", "jobs_status_created_idx", "jobs_type_created_idx"
SEARCH = "jobs_search_trgm_idx"
CURSOR_AT = (NEWEST - timedelta(seconds=9_000)).isoformat()


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        ({}, {CREATED}),
        ({"status": "FAILED"}, {STATUS}),
        (
            {"status": "COMPLETED"},
            {CREATED, STATUS},
        ),  # 90% of rows: walking newest first and filtering is cheapest
        ({"type": "hash"}, {TYPE, CREATED}),
        ({"type": "hash", "status": "DEAD_LETTERED"}, {STATUS, TYPE}),
        ({"since": "2025-12-31T23:00:00Z", "until": "2025-12-31T23:30:00Z"}, {CREATED}),
        ({"q": "number 12345"}, {SEARCH}),
        ({"q": "number 1", "status": "COMPLETED"}, {CREATED, STATUS, SEARCH}),
    ],
    ids=[
        "newest",
        "status-rare",
        "status-common",
        "type",
        "type+status",
        "time-range",
        "search-rare",
        "search-common",
    ],
)
def test_jobs_queries_use_an_index(big_table: Stores, query: dict[str, str], indexes: set[str]) -> None:
    for with_cursor in (False, True):
        wanted = dict(query)
        if with_cursor:
            from functions.readmodel.params import encode_cursor

            wanted["cursor"] = encode_cursor(
                datetime.fromisoformat(CURSOR_AT), "ffffffff-ffff-ffff-ffff-ffffffffffff"
            )
        sql, params = jobs_sql(job_query(wanted))
        found = plan(big_table, sql, params)
        print(f"{query} cursor={with_cursor}: {found[:400]}")
        assert "Seq Scan" not in found
        assert '"Relation Name": "jobs"' in found
        used = {name for name in (CREATED, STATUS, TYPE, SEARCH) if f'"{name}"' in found}
        assert used, "no index of jobs in the plan"
        assert used <= indexes, f"unexpected index {used - indexes}"


def test_stream_changes_query_uses_the_updated_at_index(big_table: Stores) -> None:
    sql, params = changed_jobs_sql(NEWEST - timedelta(seconds=5))
    found = plan(big_table, sql, params)
    assert "Seq Scan" not in found
    assert "jobs_updated_idx" in found
