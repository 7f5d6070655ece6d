-- Fencing of file work (one owner per job).
-- publishing: {"token": N, "bytes": B}, recorded under the lease before a finished export is published:
-- from then on lease N's partial file, B bytes long (or, in object storage, the recorded upload), is the
-- export, whichever lease publishes it. NULL until a lease starts publishing.
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS publishing jsonb;
-- storage: the identity of the storage a job's files are written to (the data directory's id file, or
-- the s3:// URL): only instances of that storage claim the job, and only they serve its file. NULL for
-- jobs created before it was recorded (an instance adopts them at start).
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS storage text;
