-- Lifecycle: a completed job's file is deleted once the retention has passed and the job becomes
-- 'expired'; failed, cancelled and expired records are removed later still (the engine's sweeper).
ALTER TABLE export_jobs DROP CONSTRAINT IF EXISTS export_jobs_status_check;
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'expired'));

-- The sweeper's scans: ended jobs by the time they ended.
CREATE INDEX export_jobs_ended ON export_jobs (status, finished_at)
    WHERE status IN ('completed', 'failed', 'cancelled', 'expired');
