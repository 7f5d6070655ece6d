#!/usr/bin/env python3
"""`"format": "parquet"` through the real server (CONTRACT.md, Part 3, "Parquet").

    formats_parquet.py <pgexport binary>     (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

- a table of every mapped type (tests/parquet/every_type.sql: NULLs, extremes, NaN and infinities, numeric
  at 38 digits, dates and timestamps before 1970 and after 2038 and infinite, empty, long and non-ASCII
  text) exported with each codec, by one stream and by two slices, is read by DuckDB and by hyparquet
  (tests/parquet/check.mjs), which must both give PostgreSQL's own values, every one; the download's name
  and Content-Type;
- a job killed with SIGKILL twice, each time while a gate holds it in the middle of a row group after
  others were checkpointed, resumed each time by a new server, gives the same bytes as the uninterrupted
  export (which the readers check too);
- the options that do not go with parquet, and bad parquet options, are 400 at once;
- a cancelled job's and a failed job's row-group records are deleted with their end.
Chunks are 300 rows and row groups 1000, so a row group spans chunks and a chunk ends one mid-way. Every
wait polls for a state with a deadline. One line per case, then `N passed, M failed`."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (binary, check, held_gate, install_gate, main, psql, scratch_database, server, wait_until)

BINARY = binary()
WAIT = 120  # seconds any state may take to come about on a loaded machine
READERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parquet")
CHUNK = "300"
GROUP = 1000  # rowGroupRows


def canonical(column, kind):
    """PostgreSQL's canonical text of a column's values as check.mjs compares them (it says which form for
    which kind); the same as tests/integration/parquet_readers.cpp computes."""
    c = f'"{column}"'
    if kind == "float4":
        return f"encode(float4send({c}), 'hex')"
    if kind == "float8":
        return f"encode(float8send({c}), 'hex')"
    if kind == "bool":
        return f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN 't' ELSE 'f' END"
    if kind == "date":
        return f"CASE WHEN isfinite({c}) THEN ({c} - DATE '1970-01-01')::text ELSE {c}::text END"
    if kind == "timestamp":
        return (f"CASE WHEN isfinite({c}) THEN (extract(epoch FROM {c}) * 1000000)::numeric(30,0)::text"
                f" ELSE {c}::text END")
    if kind == "bytea":
        return f"encode({c}, 'hex')"
    return f"CASE WHEN {c} IS NULL THEN NULL ELSE concat({c}) END"  # the output function (char(n) padded)


def kind_of(sql_type):
    """check.mjs's kind and scale of a column of `sql_type` (format_type with the typmod), by the
    contract's mapping."""
    if sql_type in ("smallint", "integer", "bigint"):
        return "int", 0
    if sql_type.startswith("numeric("):
        return "decimal", int(sql_type.rstrip(")").split(",")[1])
    kinds = {"real": "float4", "double precision": "float8", "boolean": "bool", "date": "date",
             "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamp",
             "uuid": "uuid", "json": "json", "jsonb": "json", "bytea": "bytea"}
    return kinds.get(sql_type, "text"), 0


def check_readers(url, table, files, work):
    """DuckDB and hyparquet each read every file and must give exactly `table`'s values, by key."""
    rows = psql(url, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                     f" WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
                ).decode().splitlines()
    columns = [line.split("|", 1) for line in rows]
    spec_columns = [{"name": name, "kind": kind_of(t)[0], "scale": kind_of(t)[1]} for name, t in columns]
    items = ", ".join(canonical(name, kind_of(t)[0]) for name, t in columns)
    expected = json.loads(psql(url, f"SELECT json_agg(json_build_array({items}) ORDER BY id) FROM {table}"))
    spec_path = os.path.join(work, "spec.json")
    with open(spec_path, "w") as f:
        json.dump({"columns": spec_columns, "expected": expected, "files": files}, f)
    run = subprocess.run(["node", os.path.join(READERS, "check.mjs"), spec_path], capture_output=True, text=True,
                         timeout=600)
    check(run.returncode == 0, f"the readers differ from PostgreSQL:\n{run.stdout[-4000:]}{run.stderr[-2000:]}")
    return len(expected)


def download_to(s, job, path):
    r = s.request("GET", f"/api/export/{job}/download")
    check(r.status == 200, f"download {job}: {r!r}")
    with open(path, "wb") as f:
        f.write(r.body)
    return r


def setUpModule():
    check(os.path.isdir(os.path.join(READERS, "node_modules", "@duckdb", "node-api")),
          "the readers are not installed: npm ci in tests/parquet (tools/test does it)")
    parquet_case.url = unittest.enterModuleContext(scratch_database("pgexport_parquet"))
    with open(os.path.join(READERS, "every_type.sql"), encoding="utf-8") as f:
        psql(parquet_case.url, f.read())


class parquet_case(unittest.TestCase):
    url = None  # setUpModule's

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="pgexport-parquet-")
        self.addCleanup(shutil.rmtree, self.work, True)


class one_server(parquet_case):
    @classmethod
    def setUpClass(cls):
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--table", "every_type", "--chunk-rows", CHUNK,
                                             "--max-parallelism", "2", "--min-slice-rows", "1",
                                             "--max-jobs-per-key", "1000", "--max-concurrent", "4"))

    def test_readers_read_back_what_postgresql_has(self):
        s = self.s
        bodies = [{"format": "parquet", "parquet": {"rowGroupRows": GROUP}},
                  {"format": "parquet", "parquet": {"compression": "snappy", "rowGroupRows": 1500}},
                  {"format": "parquet", "parquet": {"compression": "none"}},
                  {"format": "parquet", "parquet": {"rowGroupRows": GROUP}, "parallelism": 2}]
        jobs = [(body, s.create(body)) for body in bodies]
        files = []
        for body, job in jobs:
            st = s.wait_completed(job, WAIT)
            check(st["request"].get("parallelism", 1) == body.get("parallelism", 1), f"{body}: ran as {st['request']}")
            path = os.path.join(self.work, f"{job}.parquet")
            r = download_to(s, job, path)
            check(r.headers["Content-Type"] == "application/vnd.apache.parquet",
                  f"Content-Type {r.headers['Content-Type']}")
            check(r.headers["Content-Disposition"] == f'attachment; filename="export-{job}.parquet"',
                  f"Content-Disposition {r.headers['Content-Disposition']}")
            check(st["bytesWritten"] == os.path.getsize(path), f"{body}: bytesWritten {st['bytesWritten']}")
            files.append(path)
        rows = check_readers(self.url, "every_type", files, self.work)
        print(f"    {len(files)} files of {rows} rows read back by DuckDB and hyparquet", flush=True)

    def test_options_that_do_not_apply_are_400(self):
        s = self.s
        for body, words in (({"format": "parquet", "compression": "gzip"}, "gzip"),
                            ({"format": "parquet", "csv": {"bom": True}}, "csv"),
                            ({"parquet": {"compression": "zstd"}}, "parquet"),
                            ({"format": "parquet", "parquet": {"compression": "gzip"}}, "compression"),
                            ({"format": "parquet", "parquet": {"rowGroupRows": 10}}, "rowGroupRows"),
                            ({"format": "parquet", "parquet": {"rowGroupRows": 1.5}}, "rowGroupRows"),
                            ({"format": "parquet", "parquet": {"pages": 1}}, "pages")):
            r = s.request("POST", "/api/export", body)
            check(r.status == 400, f"{body}: {r!r}")
            check(words.encode() in r.body, f"{body}: {r.body!r}")


class resume(parquet_case):
    def killed_and_resumed(self, body, kills, *more):
        """The gate holds the export past id `open_below`, in the middle of a row group, after a checkpoint
        of `vouched` rows; SIGKILL; a new server takes the job over (its lease ran out), truncates the files
        to the last row group a checkpoint vouched for and goes on; at the end, the uninterrupted export's
        bytes (a job of the same request on the same view: the same slices)."""
        url = self.url
        args = ("--table", "every_type_gated:id", "--chunk-rows", CHUNK, "--lease", "1s", *more)
        install_gate(url, view="every_type_gated", table="every_type", open_below=1_000_000)
        reference = os.path.join(self.work, "reference.parquet")
        with server(BINARY, url, *args) as s:
            job = s.create(body)
            st = s.wait_completed(job, WAIT)
            check(st["request"].get("parallelism", 1) == body.get("parallelism", 1), f"ran as {st['request']}")
            download_to(s, job, reference)
        data_dir = os.path.join(self.work, "exports")
        job = None
        rows_of = lambda: int(psql(url, f"SELECT rows_exported FROM export_jobs WHERE id = '{job}'").decode().strip()
                              or 0)
        for open_below, vouched in kills:
            install_gate(url, view="every_type_gated", table="every_type", open_below=open_below)
            with held_gate(url) as gate, server(BINARY, url, *args, data_dir=data_dir) as s:
                job = job or s.create(body)
                gate.wait_for_waiters(1, WAIT)
                rows = wait_until(f"a checkpoint of {vouched} rows", lambda: rows_of() >= vouched and rows_of(), WAIT)
                check(rows == vouched, f"the checkpoint holds {rows} rows, not the {vouched} of the row groups")
                s.kill()
        install_gate(url, view="every_type_gated", table="every_type", open_below=1_000_000)
        resumed = os.path.join(self.work, "resumed.parquet")
        with server(BINARY, url, *args, data_dir=data_dir) as s:
            s.wait_completed(job, WAIT)
            download_to(s, job, resumed)
        with open(reference, "rb") as a, open(resumed, "rb") as b:
            want, got = a.read(), b.read()
        check(got == want, f"after {len(kills)} kill(s) the file differs: {len(got)} bytes, uninterrupted {len(want)}")
        left = psql(url, f"SELECT count(*) FROM export_row_groups WHERE job_id = '{job}'").decode().strip()
        check(left == "0", f"{left} row group records left after the job completed")
        check_readers(url, "every_type", [resumed], self.work)

    def test_killed_twice_resumes_to_the_same_bytes(self):
        # Row 1000 is id 1092, row 2000 id 2092: the first kill leaves one row group vouched for and rows of
        # the second in memory; the second kill two, and rows of the third.
        self.killed_and_resumed({"format": "parquet", "parquet": {"rowGroupRows": GROUP}},
                                ((1500, GROUP), (2600, 2 * GROUP)))

    def test_parallel_killed_resumes_to_the_same_bytes(self):
        # Two slices of the view's even key ranges, split near id 1550: the first has one row group vouched
        # for and rows of its second in memory, the second waits at the gate from its first row.
        self.killed_and_resumed({"format": "parquet", "parquet": {"rowGroupRows": GROUP}, "parallelism": 2},
                                ((1500, GROUP),), "--max-parallelism", "2", "--min-slice-rows", "1")


class ended_jobs(parquet_case):
    def test_a_cancelled_or_failed_job_leaves_no_row_group_records(self):
        # Row groups recorded by a job's checkpoints go with its end: at the cancel (its record stays until
        # the retention), and at the failure, here a NaN in a numeric(6,2) column two row groups in.
        url = self.url
        psql(url, "DROP TABLE IF EXISTS parquet_nan;"
                  " CREATE TABLE parquet_nan (id bigint PRIMARY KEY, v numeric(6,2));"
                  " INSERT INTO parquet_nan SELECT i, CASE WHEN i = 2500 THEN 'NaN' ELSE i / 100.0 END"
                  " FROM generate_series(1, 3000) AS i")
        install_gate(url, view="every_type_gated", table="every_type", open_below=1500)
        records = lambda job: int(psql(url, "SELECT count(*) FROM export_row_groups"
                                            f" WHERE job_id = '{job}'").decode().strip())
        body = {"format": "parquet", "parquet": {"rowGroupRows": GROUP}}
        with server(BINARY, url, "--table", "every_type_gated:id", "--table", "parquet_nan:id",
                    "--chunk-rows", CHUNK) as s:
            with held_gate(url) as gate:
                job = s.create({**body, "table": "every_type_gated"})
                gate.wait_for_waiters(1, WAIT)
                wait_until("a row group recorded", lambda: records(job), WAIT)
                r = s.request("DELETE", f"/api/export/{job}")
                check(r.status == 200 and json.loads(r.body)["status"] == "cancelled", f"cancel: {r!r}")
                check(records(job) == 0, f"{records(job)} row group records left after the cancel")
            failed = s.create({**body, "table": "parquet_nan"})
            st = s.wait_ended(failed, WAIT)
            check(st["status"] == "failed" and '"v"' in st["error"], f"the NaN job: {st}")
            check(records(failed) == 0, f"{records(failed)} row group records left after the failure")


if __name__ == "__main__":
    main()
