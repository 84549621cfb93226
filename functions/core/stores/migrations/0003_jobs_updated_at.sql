-- The read model's /stream asks for jobs changed since its last tick (updated_at > $1 ORDER BY updated_at);
-- without this index that is a scan of the whole table every second per connected client.
CREATE INDEX IF NOT EXISTS jobs_updated_idx ON jobs (updated_at, id);
