-- The bytes of each job's stored request (its JSON), so that a quota key's stored requests can be bounded
-- (--max-request-bytes-per-key) without reading them. NULL for jobs created before: counted by their text.
--
-- Independent of the others but 004 (quota_key).
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS request_bytes bigint;

-- Every job of a key counts, whatever its state, until the sweeper removes its record.
CREATE INDEX IF NOT EXISTS export_jobs_quota_key_bytes ON export_jobs (quota_key) INCLUDE (request_bytes)
    WHERE quota_key IS NOT NULL;
