-- Parquet exports: what the file's footer needs of each row group a checkpoint vouched for (its offsets,
-- sizes and statistics: format/parquet/metadata.hpp's JSON), kept until the footer is written at the end.
-- One row per row group, inserted by the fenced checkpoint that first vouches for it, in the same
-- statement, and never rewritten by later checkpoints: a checkpoint costs the same at the 10,000th row
-- group as at the first (an array in export_jobs would be rewritten whole by each of them, which adds up
-- to the square of the row groups).
-- file: 0 for a job exported by one stream, k for a parallel job's slice k; ordinal: the row group's place
-- in that file, from 0. Rows up to the checkpoint's bytes (bytes_written, or the slice's) are the file's; a
-- row past them was written by an attempt that got no further, and the next one overwrites it.
CREATE TABLE IF NOT EXISTS export_row_groups (
    job_id  uuid    NOT NULL REFERENCES export_jobs (id) ON DELETE CASCADE,
    file    integer NOT NULL,
    ordinal integer NOT NULL,
    info    jsonb   NOT NULL,
    PRIMARY KEY (job_id, file, ordinal)
);
