-- Idempotency keys the gateway has accepted, so a resubmission answers with the same job.
CREATE TABLE IF NOT EXISTS submissions (
    idempotency_key text PRIMARY KEY,
    job_id          uuid        NOT NULL,
    event_id        text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
