-- The export jobs: one row per job, the checkpoint of a running job included.
CREATE TABLE export_jobs (
    id                  uuid        PRIMARY KEY,
    status              text        NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    request             jsonb       NOT NULL,
    owner               text,                       -- the API key (its hash) that created the job
    key_upper_bound     bigint,                     -- the highest key at creation; NULL when the table was empty
    last_processed_id   bigint,                     -- the key of the last exported row; NULL before the first
    rows_exported       bigint      NOT NULL DEFAULT 0,
    bytes_written       bigint      NOT NULL DEFAULT 0,
    total_rows_estimate bigint,
    file_path           text,
    error               text,
    attempts            integer     NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    lease_owner         text,
    lease_expires_at    timestamptz
);

CREATE INDEX export_jobs_created_at ON export_jobs (created_at DESC);
CREATE INDEX export_jobs_unfinished ON export_jobs (created_at) WHERE status IN ('queued', 'running');
