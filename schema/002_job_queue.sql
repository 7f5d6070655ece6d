-- The job queue: any number of instances claim jobs from this table with FOR UPDATE SKIP LOCKED and hold
-- them under a lease. Every write a running job makes names its lease (owner and token), so an instance
-- whose lease was taken over can no longer change the job.
ALTER TABLE export_jobs
    ADD COLUMN lease_token bigint NOT NULL DEFAULT 0, -- bumped by every claim: the fencing token
    ADD COLUMN part_token  bigint,                    -- the lease whose partial file holds the checkpoint
    ADD COLUMN table_name  text,                      -- the exported table as the catalog prints it
    ADD COLUMN key_column  text;                      -- and its key; both NULL for jobs of version 1

-- Jobs of version 1 had no lease: whichever instance starts first adopts them (engine start-up).
UPDATE export_jobs SET lease_expires_at = NULL WHERE status = 'running';
