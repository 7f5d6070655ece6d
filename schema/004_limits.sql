-- Per-client quotas: each job records whose quota it counts against (the API key's owner, or the client's
-- address when the server has no keys), and an insert counts that key's queued and running jobs under an
-- advisory lock. NULL for jobs created before: they count against no one.
--
-- Independent of 003 (another change): applied whether 003 is there yet or not, and 003 may come after it.
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS quota_key text;

-- Only the jobs that count: queued and running ones, few next to all the ended ones a key has.
CREATE INDEX IF NOT EXISTS export_jobs_quota_key_active ON export_jobs (quota_key)
    WHERE status IN ('queued', 'running') AND quota_key IS NOT NULL;
