-- --replica: each job records the primary's WAL position taken with its fixed end (in the same statement),
-- and reads no chunk from a standby that has not replayed past it. NULL for jobs created before: the
-- engine takes the primary's position when such a job first runs against a standby (later is safe).
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS wal_lsn pg_lsn;
