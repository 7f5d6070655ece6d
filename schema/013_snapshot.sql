-- Snapshot-consistent exports ("consistency": "snapshot", docs/consistency.md).
-- snapshot: the snapshot the job's file is of, recorded under the lease before any chunk is read under it
-- (snapshot/snapshot_resume.hpp: {"id", "xmin", "xmax", "xip", "takenAtUs", "lsn", "systemId", "standby",
-- "end"}), rewritten with the checkpoint it was checked against when the job goes on under a new one.
-- NULL for a chunked job, and before a snapshot job first started.
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS snapshot jsonb;
-- How often the job started over under a new snapshot because the rows written could not be proven the
-- same under it.
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS snapshot_restarts integer NOT NULL DEFAULT 0;
-- A failed job's error code, where it has one (snapshot_too_old); NULL otherwise.
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS error_code text;
