#!/usr/bin/env python3
"""Parallel export through the real server: "parallelism" N runs key-range slices side by side, and the
file is byte-identical to the same export with parallelism 1 and to psql's COPY.

    parallel.py <pgexport binary>     (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

- N = 2, 3, 7, 16 on hard rows (quotes, line breaks, NULL against '', unicode) with id gaps, with and
  without filters, through a view (even key ranges: slices that hold no row at all), a table with fewer
  rows than slices, an empty table and a filter that selects nothing;
- jsonl, gzip and csv options with N = 3;
- kill -9 at random instants of a parallel export, 10 times, each resumed by a new server on the same data
  directory: byte-identical every time (no slice lost or written twice);
- cancel while every slice is held at a gate removes every slice file;
- --max-rate is the job's, shared by its slices; with --replica every slice waits for a paused standby and
  the file is the primary's COPY; --gentle gives the same bytes;
- the cap (--max-parallelism), /api/schema's maxParallelism, and 400 for a parallelism out of range;
- a small selection runs as one slice under the default --min-slice-rows (the status's request and the
  log's job_created say so), a large enough one gets as many slices as it is worth;
- incremental exports ("since"), at parallelism 1 (snapshot-consistent) and 2: three generations A, B
  since A, C since B with rows inserted between them; each file is psql's COPY of its key range with the
  options B and C took from A, together they are the whole selection, each row once; a row updated below the fixed end is
  not exported again; the status's since and fromKey, the slices cut inside (fromKey .. end]; and the
  400s: a malformed or unknown id, a running or cancelled job, a job of another table; a since job of 2
  slices killed with one slice held at the gate resumes from its checkpoint to COPY's bytes of its range.
Every other server here starts with --min-slice-rows 1, so that these small tables are sliced as asked.
Chunks are 7 rows, so every slice spans several chunks. Every wait polls for a state with a deadline."""
import gzip
import json
import os
import random
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (binary, copy_csv, held_gate, install_gate, main, private_cluster, psql, scratch_database, seed,
                     server, sql_value, streaming_standby, wait_until)

BINARY = binary()
WAIT = 120  # seconds any state may take to come about on a loaded machine
CHUNK = "7"
# These tables hold a few thousand rows at most, far below the rows a slice must be worth by default
# (--min-slice-rows): every server here slices as asked but the one that checks that default.
SLICE_ALL = ("--min-slice-rows", "1")

TABLES = """
CREATE TABLE hard (
    id   bigint PRIMARY KEY,
    t    text,
    n    numeric(12,2),
    ts   timestamptz,
    grp  text NOT NULL
);
INSERT INTO hard VALUES
 (1,  'plain', 1.50, '2024-01-01 00:00:00+00', 'a'),
 (2,  'comma, inside', -2.00, '2024-02-29 12:34:56.789+00', 'a'),
 (3,  'double "quotes" here', NULL, NULL, 'b'),
 (4,  E'back\\\\slash \\\\N \\\\. end', 0, '1999-12-31 23:59:59+00', 'a'),
 (5,  E'line\\nbreak', 3.14, '2024-06-01 00:00:00+00', 'b'),
 (6,  E'carriage\\rreturn', 4, '2024-06-01 00:00:00+00', 'a'),
 (7,  '', 7, '2024-06-01 00:00:00+00', 'a'),
 (8,  NULL, 8, '2024-06-01 00:00:00+00', 'b'),
 (9,  'NULL', 9, '2024-06-01 00:00:00+00', 'a'),
 (10, 'unicode: é 中文 😀 ‮rtl', 12, '2024-06-01 00:00:00+00', 'a'),
 (11, E'"\\n"', 14, '2024-06-01 00:00:00+00', 'b');
-- Gaps: a run, a jump of a thousand, a jump of a million, a last lone row.
INSERT INTO hard SELECT g, 'row ' || g || CASE WHEN g % 3 = 0 THEN E', "q"\\n' ELSE '' END, g * 1.25,
                        '2024-01-01'::timestamptz + g * interval '1 hour', CASE WHEN g % 5 = 0 THEN 'b' ELSE 'a' END
                 FROM generate_series(12, 60) g;
INSERT INTO hard SELECT g, 'far ' || g, g, '2024-03-01'::timestamptz + g * interval '1 second', 'a'
                 FROM generate_series(1000, 1040) g;
INSERT INTO hard SELECT g, E'very far\\n' || g, g, NULL, 'b' FROM generate_series(1000000, 1000030) g;
INSERT INTO hard VALUES (5000000000, 'last', 1, NULL, 'a');
CREATE VIEW hard_v AS SELECT * FROM hard;
CREATE TABLE few (id bigint PRIMARY KEY, t text);
INSERT INTO few VALUES (5, 'five'), (50, E'fifty\\n"50"'), (500, NULL);
CREATE TABLE empty (id bigint PRIMARY KEY, t text);
CREATE TABLE grow (id bigserial PRIMARY KEY, t text, grp text NOT NULL);
CREATE TABLE big (id bigint PRIMARY KEY, t text, n int);
INSERT INTO big SELECT g, repeat(md5(g::text), 3) || CASE WHEN g % 97 = 0 THEN E'\\n"x"' ELSE '' END, g % 13
                FROM generate_series(1, 6000) g WHERE g % 11 <> 0;
ANALYZE;
"""


def post(s, body):
    req = urllib.request.Request(s.base + "/api/export", method="POST", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def get(s, path, method="GET"):
    req = urllib.request.Request(s.base + path, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def status(s, job):
    code, body = get(s, f"/api/export/{job}/status")
    return json.loads(body) if code == 200 else None


def wait_completed(s, job):
    st = wait_until(f"job {job} ends", lambda: (lambda j: j if j and j["status"] not in ("queued", "running")
                                                else None)(status(s, job)), WAIT)
    if st["status"] != "completed":
        raise AssertionError(f"job {job} ended {st['status']}: {st.get('error')}\n{s.log_tail()}")
    return st


def export(s, body):
    code, created = post(s, body)
    if code != 202:
        raise AssertionError(f"POST {body}: {code} {created}")
    st = wait_completed(s, created["jobId"])
    code, data = get(s, f"/api/export/{created['jobId']}/download")
    if code != 200:
        raise AssertionError(f"download: {code}")
    return created["jobId"], st, data


def slice_count(url, job):
    out = psql(url, f"SELECT coalesce(jsonb_array_length(slices), 1) FROM export_jobs WHERE id = '{job}'")
    return int(out.decode().strip())


def files_of(data_dir, job):
    return sorted(f for f in os.listdir(data_dir) if f.startswith(job))


class parallel_export(unittest.TestCase):
    # Instances that share a database must share a data directory: the class's server does not serve `big`,
    # which the tests that start servers of their own export, one server at a time.
    @classmethod
    def setUpClass(cls):
        cls.db = scratch_database("e2e_parallel")
        cls.url = cls.db.__enter__()
        psql(cls.url, TABLES)
        install_gate(cls.url, view="grow_gated", table="grow", key="id")
        cls.server = server(BINARY, cls.url, *SLICE_ALL, "--chunk-rows", CHUNK, "--max-parallelism", "16",
                            "--max-concurrent", "4", "--table", "hard", "--table", "hard_v:id", "--table", "few",
                            "--table", "empty", "--table", "grow", "--table", "grow_gated:id")

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.db.__exit__(None, None, None)

    def identical(self, body, select, parallelisms=(2, 3, 7, 16)):
        """The export of `body` at each parallelism is the bytes of parallelism 1 and of psql's COPY."""
        expected = copy_csv(self.url, select)
        rows = int(psql(self.url, f"SELECT count(*) FROM ({select}) s").decode())
        _, _, one = export(self.server, dict(body, parallelism=1))
        self.assertEqual(one, expected, f"{body} at parallelism 1 differs from COPY")
        for n in parallelisms:
            with self.subTest(body=body, parallelism=n):
                job, st, data = export(self.server, dict(body, parallelism=n))
                self.assertEqual(data, expected, f"{body} at parallelism {n} differs from COPY")
                self.assertEqual(st["rowsExported"], rows)
                self.assertEqual(st["bytesWritten"], len(data))
                self.assertEqual(files_of(self.server.data_dir, job), [f"{job}.csv"], "slice files left behind")
        return expected

    def test_hard_rows_with_gaps(self):
        self.identical({"table": "hard"}, "SELECT * FROM hard ORDER BY id")
        job, _, _ = export(self.server, {"table": "hard", "parallelism": 7})
        self.assertGreater(slice_count(self.url, job), 3, "a table of 134 rows is cut into several slices")

    def test_filters(self):
        self.identical({"table": "hard", "filters": {"grp": "b"}, "columns": ["t", "id", "ts"]},
                       "SELECT t, id, ts FROM hard WHERE grp = 'b' ORDER BY id")
        self.identical({"table": "hard", "filters": {"id": {"gte": 30, "lt": 1000020}, "t": {"ne": ""}}},
                       "SELECT * FROM hard WHERE id >= 30 AND id < 1000020 AND t <> '' ORDER BY id", (3, 16))
        self.identical({"table": "hard", "filters": {"grp": "nothing"}},
                       "SELECT * FROM hard WHERE grp = 'nothing' ORDER BY id", (2, 16))

    def test_view_with_empty_slices(self):
        # A view has no sample: even key ranges over 1 .. 5,000,000,000 leave most slices without a row.
        expected = self.identical({"table": "hard_v"}, "SELECT * FROM hard_v ORDER BY id", (2, 7, 16))
        self.assertGreater(len(expected), 0)
        job, _, _ = export(self.server, {"table": "hard_v", "parallelism": 16})
        self.assertEqual(slice_count(self.url, job), 16)

    def test_fewer_rows_than_slices_and_empty(self):
        self.identical({"table": "few"}, "SELECT * FROM few ORDER BY id", (2, 16))
        job, _, _ = export(self.server, {"table": "few", "parallelism": 16})
        self.assertLessEqual(slice_count(self.url, job), 3)
        self.identical({"table": "empty"}, "SELECT * FROM empty ORDER BY id", (2, 16))

    def test_formats_with_three_slices(self):
        select = "SELECT * FROM hard ORDER BY id"
        # jsonl: the lines of parallelism 1, which formats.py holds to row_to_json.
        _, _, one = export(self.server, {"table": "hard", "format": "jsonl"})
        _, _, three = export(self.server, {"table": "hard", "format": "jsonl", "parallelism": 3})
        self.assertEqual(three, one)
        self.assertEqual(len(one.splitlines()), int(psql(self.url, "SELECT count(*) FROM hard").decode()))
        # gzip: the slices' members concatenate into one valid stream of the csv bytes.
        _, _, packed = export(self.server, {"table": "hard", "compression": "gzip", "parallelism": 3})
        self.assertEqual(gzip.decompress(packed), copy_csv(self.url, select))
        _, _, packed = export(self.server, {"table": "hard", "format": "jsonl", "compression": "gzip",
                                            "parallelism": 3})
        self.assertEqual(gzip.decompress(packed), one)
        # csv options: COPY's own, the BOM once, the header once (in the first slice).
        options = {"delimiter": ";", "header": True, "null": "NULL", "forceQuote": True, "bom": True}
        _, _, data = export(self.server, {"table": "hard", "csv": options, "parallelism": 3})
        expected = b"\xef\xbb\xbf" + psql(self.url, f"COPY ({select}) TO STDOUT WITH (FORMAT csv, DELIMITER ';',"
                                                    " HEADER true, NULL 'NULL', FORCE_QUOTE *)")
        self.assertEqual(data, expected)
        _, _, data = export(self.server, {"table": "hard", "csv": {"header": False}, "parallelism": 3})
        self.assertEqual(data, psql(self.url, f"COPY ({select}) TO STDOUT WITH (FORMAT csv)"))

    def grow(self, n, grp_x_every=4):
        """Inserts n rows into grow (hard text; every grp_x_every-th in group 'x', which the filter leaves out)."""
        psql(self.url, "INSERT INTO grow (t, grp) SELECT CASE g % 3 WHEN 0 THEN 'q \"' || g || E'\"\\nline'"
                       f" WHEN 1 THEN NULL ELSE 'r' || g || ';' END, CASE WHEN g % {grp_x_every} = 0 THEN 'x'"
                       f" ELSE 'a' END FROM generate_series(1, {n}) g")

    def test_since_three_generations(self):
        """A (full), B since A, C since B, with rows inserted before each: each file is COPY of its own key
        range (after the earlier job's fixed end, up to its own), with the filters, columns and csv options
        B and C took from A; their rows together are the whole selection, each once, in key order."""
        select = "SELECT id, t FROM grow WHERE grp <> 'x'"
        options = "FORMAT csv, HEADER true, DELIMITER ';', NULL 'NULL'"
        for n in (1, 2):
            with self.subTest(parallelism=n):
                self.grow(30)
                # The first chain is snapshot-consistent (B and C take that from A too), the second chunked.
                consistency = "snapshot" if n == 1 else "chunked"
                body = {"table": "grow", "filters": {"grp": {"ne": "x"}}, "columns": ["id", "t"],
                        "csv": {"delimiter": ";", "null": "NULL"}, "parallelism": n, "consistency": consistency}
                jobs, files, ends = [], [], []
                for generation in range(3):
                    if generation:
                        self.grow(20 + generation)
                        body = {"since": jobs[-1], "parallelism": n}
                    job, st, data = export(self.server, body)
                    end = int(sql_value(self.url, f"SELECT key_upper_bound FROM export_jobs WHERE id = '{job}'"))
                    after = ends[-1] if ends else None
                    self.assertEqual(st["since"], jobs[-1] if jobs else None)
                    self.assertEqual(st["fromKey"], after)
                    self.assertEqual(st["request"].get("since"), jobs[-1] if jobs else None)
                    self.assertEqual(st["request"]["columns"], ["id", "t"], "taken from A")
                    self.assertEqual(st["consistency"], consistency, "taken from A")
                    lower = f" AND id > {after}" if after is not None else ""
                    expected = psql(self.url, f"COPY ({select}{lower} AND id <= {end} ORDER BY id) TO STDOUT WITH"
                                              f" ({options})")
                    self.assertEqual(data, expected, f"generation {generation}: not COPY of ({after}, {end}]")
                    self.assertGreater(data.count(b"\n"), 10, "each generation has new rows")
                    if n == 2:
                        self.assertEqual(slice_count(self.url, job), 2, "sliced inside its own range")
                        first = sql_value(self.url, f"SELECT slices->0->>'after' FROM export_jobs WHERE id = '{job}'")
                        self.assertEqual(first, "" if after is None else str(after))
                    jobs.append(job)
                    files.append(data)
                    ends.append(end)
                # Together: the whole selection, each row once, in key order (the header line is each file's).
                header = files[0].split(b"\n", 1)[0] + b"\n"
                whole = psql(self.url, f"COPY ({select} AND id <= {ends[-1]} ORDER BY id) TO STDOUT WITH ({options})")
                self.assertEqual(header + b"".join(f[len(header):] for f in files), whole)
                # A row updated below C's end is not exported again: D has the new row only.
                psql(self.url, "UPDATE grow SET t = 'changed' WHERE id = (SELECT min(id) FROM grow WHERE grp <> 'x')")
                self.grow(1, grp_x_every=2)
                _, st, data = export(self.server, {"since": jobs[-1], "parallelism": n})
                self.assertEqual(data, header + psql(self.url, f"COPY ({select} AND id > {ends[-1]} ORDER BY id)"
                                                               " TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'NULL')"))
                self.assertNotIn(b"changed", data)
                self.assertEqual(st["rowsExported"], 1)

    def test_since_resumes_after_a_kill(self):
        """A since job of 2 slices, killed (SIGKILL) while its second slice waits at the gate and its first has
        checkpointed rows, is resumed by a new server on the same data directory from that checkpoint: the
        file is COPY of (A's end, its own end], as an uninterrupted one would be."""
        self.grow(40)
        job_a, _, _ = export(self.server, {"table": "grow_gated"})
        end_a = int(sql_value(self.url, f"SELECT key_upper_bound FROM export_jobs WHERE id = '{job_a}'"))
        self.grow(200)
        # The first hundred new keys pass the gate; the second slice's rows wait at it while it is held.
        install_gate(self.url, view="grow_gated", table="grow", key="id", open_below=end_a + 100)
        data_dir = os.path.join(self.server.work, "since-killed")
        try:
            with held_gate(self.url) as gate:
                first = server(BINARY, self.url, *SLICE_ALL, "--chunk-rows", CHUNK, "--table", "grow_gated:id",
                               data_dir=data_dir, name="since-first")
                try:
                    code, created = post(first, {"since": job_a, "parallelism": 2})
                    self.assertEqual(code, 202, created)
                    job = created["jobId"]
                    gate.wait_for_waiters(1)
                    checkpointed = lambda: int(sql_value(
                        self.url, f"SELECT rows_exported FROM export_jobs WHERE id = '{job}'") or 0)
                    wait_until("rows checkpointed before the kill", lambda: checkpointed() > 0, WAIT)
                    self.assertEqual(status(first, job)["status"], "running")
                    first.kill()
                finally:
                    first.close()
                at_kill = checkpointed()
            with server(BINARY, self.url, *SLICE_ALL, "--chunk-rows", CHUNK, "--table", "grow_gated:id",
                        data_dir=data_dir, name="since-second") as second:
                st = wait_completed(second, job)
                code, data = get(second, f"/api/export/{job}/download")
                self.assertEqual(code, 200)
                end = int(sql_value(self.url, f"SELECT key_upper_bound FROM export_jobs WHERE id = '{job}'"))
                self.assertEqual((st["since"], st["fromKey"]), (job_a, end_a))
                self.assertEqual(slice_count(self.url, job), 2)
                self.assertEqual(data, copy_csv(self.url, f"SELECT * FROM grow WHERE id > {end_a} AND id <= {end}"
                                                          " ORDER BY id"), "the resumed since file differs")
                started = [e.get("resumed_at_row") for e in second.log_events()
                           if e.get("job") == job and e.get("event") == "job_started"]
                self.assertEqual(started, [at_kill], "not resumed at the checkpoint")
        finally:
            install_gate(self.url, view="grow_gated", table="grow", key="id")

    def test_since_refusals(self):
        """400 invalid_request for an id that is not a UUID, a job that is not there, one that has not
        completed (running, cancelled), and one of another table."""
        def refused(body, why):
            code, answer = post(self.server, body)
            self.assertEqual(code, 400, f"{body}: {answer}")
            self.assertEqual(answer["error"]["code"], "invalid_request")
            self.assertIn(why, answer["error"]["message"])

        refused({"table": "grow", "since": "yesterday"}, "\"since\" must be the id of an earlier export job")
        refused({"since": "00000000-0000-4000-8000-000000000000"}, "no export job 00000000-0000-4000-8000-000000000000")
        few, _, _ = export(self.server, {"table": "few"})
        refused({"table": "grow", "since": few}, f"the export job {few} exported the table \"few\", not \"grow\"")
        self.grow(3)
        with held_gate(self.url) as gate:
            code, created = post(self.server, {"table": "grow_gated"})
            self.assertEqual(code, 202)
            job = created["jobId"]
            gate.wait_for_waiters(1)
            refused({"since": job}, f"the export job {job} is running; only a completed (or expired) job")
            code, _ = get(self.server, f"/api/export/{job}", method="DELETE")
            self.assertEqual(code, 200)
            gate.release()
            wait_until("cancelled", lambda: (status(self.server, job) or {}).get("status") == "cancelled", WAIT)
        refused({"since": job}, f"the export job {job} is cancelled")

    def test_limits(self):
        code, body = get(self.server, "/api/schema")
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body)["options"]["maxParallelism"], 16)
        for bad in (0, 17, -1, 2.5, "2"):
            with self.subTest(parallelism=bad):
                code, answer = post(self.server, {"table": "few", "parallelism": bad})
                self.assertEqual(code, 400)
                self.assertEqual(answer["error"]["code"], "invalid_request")
                self.assertIn("parallelism", answer["error"]["message"])
        # Above the server's cap the job gets the cap.
        with server(BINARY, self.url, *SLICE_ALL, "--chunk-rows", CHUNK, "--max-parallelism", "2",
                    "--table", "big") as capped:
            code, body = get(capped, "/api/schema")
            self.assertEqual(json.loads(body)["options"]["maxParallelism"], 2)
            job, st, data = export(capped, {"table": "big", "parallelism": 16})
            self.assertEqual(slice_count(self.url, job), 2)
            self.assertEqual(st["request"]["parallelism"], 2, "the status reports the cap the job runs with")
            self.assertEqual(data, copy_csv(self.url, "SELECT * FROM big ORDER BY id"))

    def test_small_selections_run_as_one_slice(self):
        """Under the default --min-slice-rows a table of a few thousand rows runs as one slice whatever it asks
        for; with 2000 the planner's estimate of `big` (5,455 rows) is worth 2 slices, and a filter that keeps
        about 1,260 of them one. The status and the log say what the job runs with; the bytes are COPY's."""
        def run(s, body, select, slices):
            job = s.create(body)
            st = s.wait_completed(job, WAIT)
            self.assertEqual(s.download(job), copy_csv(self.url, select), f"{body}")
            self.assertEqual(slice_count(self.url, job), slices, f"{body}")
            self.assertEqual(st["request"].get("parallelism", 1), slices, f"{body}: status {st['request']}")
            created = [e.get("slices") for e in s.log_events("job_created") if e.get("job") == job]
            self.assertEqual(created, [slices], f"{body}: job_created")

        with server(BINARY, self.url, "--chunk-rows", CHUNK, "--table", "big") as s:
            run(s, {"table": "big", "parallelism": 4}, "SELECT * FROM big ORDER BY id", 1)
        with server(BINARY, self.url, "--min-slice-rows", "2000", "--chunk-rows", CHUNK, "--table", "big") as s:
            run(s, {"table": "big", "parallelism": 4}, "SELECT * FROM big ORDER BY id", 2)
            run(s, {"table": "big", "parallelism": 4, "filters": {"n": {"lt": 3}}},
                "SELECT * FROM big WHERE n < 3 ORDER BY id", 1)
            run(s, {"table": "big", "parallelism": 1}, "SELECT * FROM big ORDER BY id", 1)

    def test_max_rate_is_shared_by_the_slices(self):
        """--max-rate is per job: 4 slices together keep to it (each has a quarter), not 4 times it."""
        expected = copy_csv(self.url, "SELECT * FROM big ORDER BY id")
        rate = 128 * 1024
        with server(BINARY, self.url, *SLICE_ALL, "--chunk-rows", "100", "--table", "big", "--max-rate", "128KiB") as s:
            start = time.monotonic()
            job, st, data = export(s, {"table": "big", "parallelism": 4})
            took = time.monotonic() - start
        self.assertEqual(data, expected)
        self.assertEqual(slice_count(self.url, job), 4)
        # A lower bound only: a busy machine makes it slower, never faster. Each slice may burst a tenth of a
        # second of its share at the start.
        self.assertGreater(took, 0.8 * len(data) / rate, f"{len(data)} bytes in {took:.2f} s at {rate} B/s")

    def kill_while_running(self, rng, data_dir, round_):
        """A parallel export of `big` on a server of its own, killed (SIGKILL) at a random number of rows while
        it runs: (job, the rows its checkpoint holds after the kill). An export that ends before its instant
        came is not a kill: it is tried again with another, at most 5 times."""
        for _ in range(5):
            first = server(BINARY, self.url, *SLICE_ALL, "--chunk-rows", CHUNK, "--table", "big", data_dir=data_dir,
                           name=f"first-{round_}")
            try:
                code, created = post(first, {"table": "big", "parallelism": rng.choice((2, 3, 4))})
                self.assertEqual(code, 202)
                job = created["jobId"]
                target = rng.randrange(1, 4500)
                st = wait_until("the export reaches its instant or ends", lambda: (lambda j: j if j and (
                    j["rowsExported"] >= target or j["status"] not in ("queued", "running")) else None)(status(first, job)),
                    WAIT, poll=0.005)
                if st["status"] == "running":
                    first.kill()
            finally:
                first.close()
            state, rows = psql(self.url, f"SELECT status, rows_exported FROM export_jobs WHERE id = '{job}'").decode().strip().split("|")
            if state == "running":
                return job, int(rows)
        raise AssertionError("five exports in a row ended before their kill: nothing was killed mid-export")

    def test_kill_at_random_instants(self):
        """SIGKILL at a random instant of a running parallel export, then a new server on the same data
        directory resumes it (the dead process's lease is ended at start) from the checkpoint it left: no
        slice is started over, and the new process exports only the rows after the checkpoint. The file is
        COPY's bytes, 10 times."""
        expected = copy_csv(self.url, "SELECT * FROM big ORDER BY id")
        total = int(psql(self.url, "SELECT count(*) FROM big").decode())
        data_dir = os.path.join(self.server.work, "killed")
        rng = random.Random(os.environ.get("PGEXPORT_TEST_SEED", "parallel"))
        resumed_past_rows = 0
        for round_ in range(10):
            with self.subTest(round=round_):
                job, at_kill = self.kill_while_running(rng, data_dir, round_)
                with server(BINARY, self.url, *SLICE_ALL, "--chunk-rows", CHUNK, "--table", "big", data_dir=data_dir,
                            name=f"second-{round_}") as second:
                    wait_completed(second, job)
                    code, data = get(second, f"/api/export/{job}/download")
                    self.assertEqual(code, 200)
                    self.assertEqual(len(data), len(expected))
                    self.assertEqual(data, expected, f"round {round_}: the resumed file differs")
                    self.assertEqual(files_of(data_dir, job), [f"{job}.csv"])
                    mine = [e for e in second.log_events() if e.get("job") == job]
                    started = [e.get("resumed_at_row") for e in mine if e.get("event") == "job_started"]
                    self.assertEqual(started, [at_kill], f"round {round_}: not resumed at the checkpoint's {at_kill} rows")
                    restarts = [e for e in mine if e.get("event") in ("job_restarted", "job_slice_restarted")]
                    self.assertEqual(restarts, [], f"round {round_}: started over")
                    self.assertEqual(second.metric("pgexport_rows_exported_total"), total - at_kill,
                                     f"round {round_}: the new process did not export just the rows after the checkpoint")
                resumed_past_rows += at_kill > 0
        self.assertGreaterEqual(resumed_past_rows, 5, "most kills must leave a checkpoint with rows to resume from")

    def test_cancel_removes_every_slice_file(self):
        install_gate(self.url, view="big_gated", table="big", key="id", open_below=100)
        with server(BINARY, self.url, *SLICE_ALL, "--chunk-rows", CHUNK, "--table", "big_gated:id") as s, \
                held_gate(self.url) as gate:
            code, created = post(s, {"table": "big_gated", "parallelism": 4})
            self.assertEqual(code, 202)
            job = created["jobId"]
            gate.wait_for_waiters(4)  # every slice is held in a COPY
            names = wait_until("slice files", lambda: [f for f in files_of(s.data_dir, job) if ".s" in f], WAIT)
            self.assertEqual(len(names), 4, names)
            code, _ = get(s, f"/api/export/{job}", method="DELETE")
            self.assertEqual(code, 200)
            gate.release()
            wait_until("cancelled", lambda: (status(s, job) or {}).get("status") == "cancelled", WAIT)
            wait_until("every slice file removed", lambda: not files_of(s.data_dir, job), WAIT)


class parallel_with_protection(unittest.TestCase):
    """--replica and --gentle with slices: a primary of its own (seeded) and a streaming standby of it."""

    @classmethod
    def setUpClass(cls):
        cls.primary = cls.enterClassContext(private_cluster("pgexport_parallel"))
        seed(BINARY, cls.primary.url, 3000)
        cls.standby = cls.enterClassContext(streaming_standby(cls.primary.url))

    def test_every_slice_waits_for_the_standby(self):
        primary, standby = self.primary, self.standby
        standby.wait_for_replay(primary.url)
        with standby.replay_paused():
            seed(BINARY, primary.url, 500)  # not on the standby yet
            with server(BINARY, primary.url, *SLICE_ALL, "--replica", standby.url, "--chunk-rows", "97") as s:
                job = s.create({"parallelism": 3})
                st = s.wait_status(job, lambda st: (st["waiting"] or "").startswith("replica behind by"),
                                   "waits for the standby", 60)
                self.assertEqual(st["rowsExported"], 0, "rows read from a standby that lacks some")
                self.assertEqual(slice_count(primary.url, job), 3)
                standby.resume_replay()
                s.wait_completed(job, 120)
                got = s.download(job)
            self.assertEqual(got, copy_csv(primary.url, "SELECT * FROM records ORDER BY id"))

    def test_gentle(self):
        with server(BINARY, self.primary.url, *SLICE_ALL, "--gentle", "--chunk-rows", "97") as s:
            job = s.create({"parallelism": 4, "filters": {"status": ["paid", "shipped"]}})
            s.wait_completed(job, 120)
            got = s.download(job)
        self.assertEqual(slice_count(self.primary.url, job), 4)
        self.assertEqual(got, copy_csv(self.primary.url,
                                       "SELECT * FROM records WHERE status IN ('paid', 'shipped') ORDER BY id"))


if __name__ == "__main__":
    main()
