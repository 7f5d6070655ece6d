-- Parallel export: a job's key-range slices, fixed at creation, and each slice's checkpoint (last key,
-- rows, bytes of its own part file, done), as one JSON array rewritten whole by every checkpoint under the
-- job's lease. NULL for a job exported by one stream (parallelism 1, and every job created before).
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS slices jsonb;
