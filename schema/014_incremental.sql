-- Incremental exports ("since": "<jobId>", docs/api.md): the key the job's walk starts after, exclusive,
-- the fixed end (key_upper_bound) of the job it continues, taken when it was created. NULL for a job that
-- starts at the lowest key: every job without "since", and one whose earlier job's table was empty.
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS key_lower_bound bigint;
