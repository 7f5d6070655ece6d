-- --storage s3://: the checkpoint of a job's multipart upload, recorded after each part S3 acknowledged:
-- {"key": …, "uploadId": …, "parts": [{"number", "etag", "bytes"}, …]}. A resumed job goes on after
-- these parts; NULL while nothing is uploaded (and always with the data directory as the storage).
ALTER TABLE export_jobs ADD COLUMN IF NOT EXISTS upload jsonb;
