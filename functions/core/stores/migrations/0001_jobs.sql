-- Authoritative job state. A row moves only forward (status_rank), except when an operator replays a
-- dead letter, which starts a new generation.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS jobs (
    id              uuid PRIMARY KEY,
    type            text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('PENDING','EXECUTING','COMPLETED','FAILED','DEAD_LETTERED')),
    status_rank     smallint    NOT NULL,
    generation      integer     NOT NULL DEFAULT 0,
    payload         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    result          jsonb,
    error           jsonb,
    attempts        integer     NOT NULL DEFAULT 0,
    correlation_id  text,
    submit_event_id text,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);

-- Keyset pagination, newest first, with and without the common filters.
CREATE INDEX IF NOT EXISTS jobs_created_id_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_status_created_idx ON jobs (status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_type_created_idx ON jobs (type, created_at DESC, id DESC);
-- Text search over id, type and payload.
CREATE INDEX IF NOT EXISTS jobs_search_trgm_idx ON jobs
    USING gin ((id::text || ' ' || type || ' ' || payload::text) gin_trgm_ops);
