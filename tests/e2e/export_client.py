#!/usr/bin/env python3
"""`pgexport export`, the client, against a real server and database.

    export_client.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

Checks: the round trip saves a file equal to COPY (an existing output is replaced only with --force); --quiet prints nothing; plain lines when not on a
terminal; --format parquet with --parquet's options saves the server's Parquet file as export-<jobId>.parquet; a refused request and a failed job exit non-zero with the server's message; a partial
download of the same job resumes with Range (the server answers 206), while a stale part of another job,
or one with no record of its job, is started over (the file is still COPY's, byte for byte); against a
scripted server: a 206 whose Content-Range does not start where the part ends is never appended, a
known ETag goes in If-Range, and a 200 to a ranged request starts over; --job attaches; Ctrl-C leaves the job running,
--cancel-on-interrupt cancels it, and says so when the job had already ended (each made certain with a
gate that holds the job still); API keys; --since with --save-job-id (the README's nightly line). One line per case, then `N passed, M failed`."""
import http.server
import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (binary, check, copy_csv, gate_waiters, held_gate, install_gate, main, psql, server,
                     shared_database, sql_value, wait_until)

BINARY = binary()
ALL_COLUMNS = "id, category, created_at, name, email, amount, status, description"


def run_client(*args, timeout=120, **kw):
    return subprocess.run([BINARY, "export", *args], capture_output=True, timeout=timeout, **kw)


def completed_job(s, columns):
    job = s.create({"columns": columns})
    s.wait_completed(job, 60)
    return job


def leave_part(out, data, job=None):
    """What an interrupted download leaves: `out`.part and, when `job` is given, its record."""
    with open(out + ".part", "wb") as f:
        f.write(data)
    if job:
        with open(out + ".part.json", "w") as f:
            json.dump({"jobId": job}, f)


def download_statuses(s, job):
    """The statuses the server answered downloads of `job` with, in order (from its request log)."""
    statuses = []
    for line in s.log_text().splitlines():
        if f'"target":"/api/export/{job}/download"' in line:
            statuses.append(int(line.split('"status":')[1].split(",")[0].rstrip("}")))
    return statuses


class scripted_server:
    """A stand-in for pgexport that serves one completed job whose downloads follow `script`: a list of
    functions, one per download request, each (handler, body) -> None, answering it. Every download
    request's headers are kept in `downloads`."""

    JOB = "0b9a3c1e-6d2f-4a8b-9c7d-1e2f3a4b5c6d"
    BODY = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(1, 2001))

    def __init__(self, script):
        self.script = list(script)
        self.downloads = []
        outer = self

        class handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, body, headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == f"/api/export/{outer.JOB}/status":
                    self.send(200, json.dumps({"jobId": outer.JOB, "status": "completed", "rowsExported": 2000,
                                               "bytesWritten": len(outer.BODY), "totalRowsEstimate": 2000,
                                               "error": None}).encode(), [("Content-Type", "application/json")])
                elif self.path == f"/api/export/{outer.JOB}/download" and outer.script:
                    outer.downloads.append(dict(self.headers))
                    outer.script.pop(0)(self, outer.BODY)
                else:
                    self.send(404, b'{"error":{"code":"not_found","message":"not scripted"}}')

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def whole(etag=None):
    def answer(h, body):
        h.send(200, body, [("ETag", etag)] if etag else [])
    return answer


def ranged(start_at=None, etag=None):
    """A 206 from the requested offset, or from `start_at` when given (a server that gets it wrong)."""
    def answer(h, body):
        first = start_at if start_at is not None else int(h.headers["Range"].split("=")[1].rstrip("-"))
        h.send(206, body[first:], [("Content-Range", f"bytes {first}-{len(body) - 1}/{len(body)}")] +
               ([("ETag", etag)] if etag else []))
    return answer


class gated_client:
    """`pgexport export` on a job held at the gate: the job is running and cannot end until release()."""

    def __init__(self, s, url, work, name, *extra):
        self.gate = held_gate(url)
        self.output = os.path.join(work, name)
        self.process = subprocess.Popen([BINARY, "export", "--server", s.base, "--output", self.output, *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.gate.wait_for_waiters(1)
        jobs = s.jobs()
        check(jobs and jobs[0]["status"] == "running", f"the newest job is not running: {jobs[:1]}")
        self.job = jobs[0]["jobId"]

    def interrupt(self):
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, err.decode()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.gate.release()


# The suite's database (20,000 rows) and work directory, made once for all its cases.
client_case = shared_database(BINARY, "client", 20000)


class one_server(client_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--chunk-rows", "100"))

    def test_round_trip_equals_copy(self):
        s, url, work = self.s, self.url, self.work
        out = os.path.join(work, "books.csv")
        p = run_client("--server", s.base, "--filters", '{"category": "books", "amount": {"gt": 10}}',
                       "--columns", "id,name,description", "--output", out)
        check(p.returncode == 0, f"exit {p.returncode}: {p.stderr.decode()}")
        check(p.stdout.decode().strip() == out, f"stdout names the file: {p.stdout!r}")
        expected = copy_csv(url, "SELECT id, name, description FROM records WHERE category = 'books'"
                                 " AND amount > 10 ORDER BY id")
        check(open(out, "rb").read() == expected, "the file equals COPY")
        check(not os.path.exists(out + ".part"), "no .part left")
        check(b"saved" in p.stderr and b"rows" in p.stderr, "plain progress lines on a non-terminal")

    def test_quiet_prints_nothing_and_default_name(self):
        s, url, work = self.s, self.url, self.work
        p = run_client("--server", s.base, "--quiet", "--columns", "id", cwd=work)
        check(p.returncode == 0, p.stderr.decode())
        check(p.stderr == b"", f"--quiet printed {p.stderr!r}")
        name = p.stdout.decode().strip()
        check(name.startswith("export-") and name.endswith(".csv"), name)
        check(open(os.path.join(work, name), "rb").read() == copy_csv(url, "SELECT id FROM records ORDER BY id"),
              "default-named file equals COPY")

    def test_parquet_with_its_options(self):
        s, url, work = self.s, self.url, self.work
        p = run_client("--server", s.base, "--quiet", "--format", "parquet", "--parquet",
                       '{"compression": "snappy", "rowGroupRows": 1000}', "--filters", '{"category": "books"}',
                       "--columns", "id,amount,status", cwd=work)
        check(p.returncode == 0, p.stderr.decode())
        name = p.stdout.decode().strip()
        check(re.fullmatch(r"export-[0-9a-f-]{36}\.parquet", name), f"the default name: {name}")
        job = name[len("export-"):-len(".parquet")]
        st = s.status(job)
        asked = st["request"]
        check(asked["format"] == "parquet" and asked["columns"] == ["id", "amount", "status"]
              and asked["parquet"]["compression"] == "snappy" and asked["parquet"]["rowGroupRows"] == 1000,
              f"the request: {asked}")
        books = int(psql(url, "SELECT count(*) FROM records WHERE category = 'books'").decode())
        check(st["rowsExported"] == books, f"{st['rowsExported']} rows, not {books}")
        with open(os.path.join(work, name), "rb") as f:
            saved = f.read()
        check(saved[:4] == b"PAR1" and saved[-4:] == b"PAR1", "a Parquet file")
        check(saved == s.request("GET", f"/api/export/{job}/download").body, "the file is the server's")
        p = run_client("--server", s.base, "--format", "parquet", "--compression", "gzip")
        check(p.returncode == 1 and b"gzip" in p.stderr, p.stderr.decode())

    def test_refused_request_exits_with_the_server_message(self):
        s = self.s
        p = run_client("--server", s.base, "--filters", '{"amount": "not a number"}')
        check(p.returncode == 1, f"exit {p.returncode}")
        check(b"invalid input syntax for type numeric" in p.stderr, p.stderr.decode())
        p = run_client("--server", s.base, "--columns", "nope")
        check(p.returncode == 1 and b"unknown column" in p.stderr, p.stderr.decode())
        p = run_client("--server", s.base, "--filters", "[1]")
        check(p.returncode == 2 and b"--filters" in p.stderr, p.stderr.decode())
        p = run_client("--server", "http://127.0.0.1:9", "--quiet")
        check(p.returncode == 1 and b"cannot connect" in p.stderr, p.stderr.decode())

    def test_partial_download_resumes_with_range(self):
        s, url, work = self.s, self.url, self.work
        job = completed_job(s, ["id", "email"])
        expected = copy_csv(url, "SELECT id, email FROM records ORDER BY id")
        out = os.path.join(work, "resumed.csv")
        leave_part(out, expected[: len(expected) // 3], job)
        p = run_client("--server", s.base, "--job", job, "--output", out)
        check(p.returncode == 0, p.stderr.decode())
        check(open(out, "rb").read() == expected, "the resumed file equals COPY")
        check(f"resuming {out}.part at byte {len(expected) // 3:,}".encode() in p.stderr, p.stderr.decode())
        check(download_statuses(s, job) == [206], f"the server's answers: {download_statuses(s, job)}")
        check(not os.path.exists(out + ".part") and not os.path.exists(out + ".part.json"), "the part or its record is left")

    def test_stale_part_of_another_job_is_not_resumed(self):
        s, url, work = self.s, self.url, self.work
        job = completed_job(s, ["id", "email"])
        other = completed_job(s, ["id", "name"])
        expected = copy_csv(url, "SELECT id, email FROM records ORDER BY id")
        out = os.path.join(work, "stale.csv")
        # Another job's bytes, exactly as many as a third of this job's file: appending this job's rest to
        # them would give a file of the right size and the wrong bytes.
        stale = copy_csv(url, "SELECT id, name FROM records ORDER BY id")[: len(expected) // 3]
        check(stale != expected[: len(stale)], "the stale bytes must differ from this job's")
        leave_part(out, stale, other)
        p = run_client("--server", s.base, "--job", job, "--output", out)
        check(p.returncode == 0, p.stderr.decode())
        check(open(out, "rb").read() == expected, "the file equals COPY (the stale part was not resumed)")
        check(f"not resuming {out}.part: it belongs to job {other}; starting over".encode() in p.stderr,
              p.stderr.decode())
        check(download_statuses(s, job) == [200], f"the server's answers: {download_statuses(s, job)}")
        # A part without a record (an older client's, or one whose record was lost) is not trusted either.
        # (--force: the first run's file is there, and is never replaced without it.)
        leave_part(out, expected[: len(expected) // 2])
        p = run_client("--server", s.base, "--job", job, "--output", out, "--force")
        check(p.returncode == 0, p.stderr.decode())
        check(open(out, "rb").read() == expected, "the file equals COPY (the unrecorded part was not resumed)")
        check(b"nothing records which job it belongs to; starting over" in p.stderr, p.stderr.decode())
        check(download_statuses(s, job) == [200, 200], f"the server's answers: {download_statuses(s, job)}")

    def test_mismatched_content_range_is_not_appended(self):
        work = self.work
        body = scripted_server.BODY
        out = os.path.join(work, "scripted.csv")
        job = scripted_server.JOB
        # The server answers the resume from byte 0 instead of where the part ends: those bytes must not be
        # appended; the client empties the part and starts over.
        with scripted_server([ranged(start_at=0), whole()]) as fake:
            leave_part(out, body[:1000], job)
            p = run_client("--server", fake.base, "--job", job, "--output", out)
            check(p.returncode == 0, p.stderr.decode())
            check(open(out, "rb").read() == body, "the file is the server's file, byte for byte")
            check(b'Content-Range "bytes 0-' in p.stderr and b"does not start at byte 1000" in p.stderr, p.stderr.decode())
            check([d.get("Range") for d in fake.downloads] == ["bytes=1000-", None], f"requests: {fake.downloads}")
        # The ETag of the first download is kept and sent as If-Range when resuming.
        with scripted_server([ranged(etag='"v1"')]) as fake:
            leave_part(out, body[:700], job)
            with open(out + ".part.json", "w") as f:
                json.dump({"jobId": job, "etag": '"v1"'}, f)
            p = run_client("--server", fake.base, "--job", job, "--output", out, "--force")
            check(p.returncode == 0 and open(out, "rb").read() == body, p.stderr.decode())
            check(fake.downloads[0].get("Range") == "bytes=700-" and fake.downloads[0].get("If-Range") == '"v1"',
                  f"request: {fake.downloads}")
        # A 200 to a ranged request (the file changed, or the server does not resume) starts over from 0.
        with scripted_server([whole(etag='"v2"')]) as fake:
            leave_part(out, b"X" * 700, job)
            with open(out + ".part.json", "w") as f:
                json.dump({"jobId": job, "etag": '"v1"'}, f)
            p = run_client("--server", fake.base, "--job", job, "--output", out, "--force")
            check(p.returncode == 0 and open(out, "rb").read() == body, p.stderr.decode())
            check(b"sent the whole file instead of the rest" in p.stderr, p.stderr.decode())
        # A download that breaks off leaves the part with its record, ETag included; the next run resumes it.
        def broken(h, body):
            h.send_response(200)
            h.send_header("ETag", '"v3"')
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:900])
            h.wfile.flush()
            h.close_connection = True
        with scripted_server([broken] * 6) as fake:
            os.remove(out)
            p = run_client("--server", fake.base, "--job", job, "--output", out)
            check(p.returncode != 0, "a download that always breaks off succeeded")
            record = json.load(open(out + ".part.json"))
            check(record == {"jobId": job, "etag": '"v3"'}, f"the record: {record}")
            check(open(out + ".part", "rb").read() == body[:900], "the part holds the bytes received")
        with scripted_server([ranged(etag='"v3"')]) as fake:
            p = run_client("--server", fake.base, "--job", job, "--output", out)
            check(p.returncode == 0 and open(out, "rb").read() == body, p.stderr.decode())
            check(fake.downloads[0].get("Range") == "bytes=900-" and fake.downloads[0].get("If-Range") == '"v3"',
                  f"request: {fake.downloads}")

    def test_mistakes_are_caught_before_the_export_runs(self):
        s, url, work = self.s, self.url, self.work
        before = len(s.jobs())
        p = run_client("--server", s.base, "--output", os.path.join(work, "no", "such", "dir", "t.csv"))
        check(p.returncode == 2 and b"cannot write to the directory" in p.stderr and b"No such file" in p.stderr,
              p.stderr.decode())
        p = run_client("--server", s.base, "--filters", '{"category": "books"')
        check(p.returncode == 2 and b"not valid JSON" in p.stderr, p.stderr.decode())
        check(len(s.jobs()) == before, "a job was created for a command that cannot succeed")
        # Spaces around column names are the shell's, not the names'.
        out = os.path.join(work, "spaced.csv")
        p = run_client("--server", s.base, "--columns", " id , email", "--output", out)
        check(p.returncode == 0, p.stderr.decode())
        check(open(out, "rb").read() == copy_csv(url, "SELECT id, email FROM records ORDER BY id"), "equals COPY")

    def test_an_empty_export_says_completed(self):
        s, work = self.s, self.work
        out = os.path.join(work, "empty.csv")
        p = run_client("--server", s.base, "--filters", '{"id": {"lt": -1}}', "--columns", "id", "--output", out)
        check(p.returncode == 0, p.stderr.decode())
        lines = p.stderr.decode().splitlines()
        check(any(l.startswith("completed 0 rows") for l in lines), f"no 'completed 0 rows' line: {lines}")
        check(open(out, "rb").read() == b"id\n", "the file is the header only")

    def test_since_and_save_job_id(self):
        """The README's nightly line: --save-job-id writes the job's id once the file is saved, --since takes
        the rows added after that job (with its filters and columns); a refused run leaves the last good id."""
        s, url, work = self.s, self.url, self.work
        last = os.path.join(work, "books.last")
        full = os.path.join(work, "books-full.csv")
        p = run_client("--server", s.base, "--filters", '{"category": "books"}', "--columns", "id,name", "--quiet",
                       "--output", full, "--save-job-id", last)
        check(p.returncode == 0, p.stderr.decode())
        first = open(last).read().strip()
        check(re.fullmatch(r"[0-9a-f-]{36}", first) is not None, f"the id file holds {first!r}")
        end = int(sql_value(url, f"SELECT key_upper_bound FROM export_jobs WHERE id = '{first}'"))
        psql(url, "INSERT INTO records (category, created_at, name, email, amount, status, description)"
                  " SELECT category, created_at, name || ' again', email, amount, status, description FROM records"
                  " WHERE category IN ('books', 'toys') ORDER BY id LIMIT 9")
        # The suite's other cases count the 20,000 seeded rows: the new ones go at the end of this one.
        self.addCleanup(psql, url, f"DELETE FROM records WHERE id > {end}")
        nightly = os.path.join(work, "books-next.csv")
        p = run_client("--server", s.base, "--since", first, "--quiet", "--output", nightly, "--save-job-id", last)
        check(p.returncode == 0, p.stderr.decode())
        second = open(last).read().strip()
        check(second != first, "the id file names the new job")
        expected = copy_csv(url, f"SELECT id, name FROM records WHERE category = 'books' AND id > {end} ORDER BY id")
        check(expected.count(b"\n") > 1, "new books rows were inserted")
        check(open(nightly, "rb").read() == expected, "the since export is COPY of the rows above the first's end")
        p = run_client("--server", s.base, "--since", "00000000-0000-4000-8000-000000000000", "--quiet",
                       "--output", os.path.join(work, "never.csv"), "--save-job-id", last)
        check(p.returncode == 1 and b"no export job" in p.stderr, p.stderr.decode())
        check(open(last).read().strip() == second, "a refused run leaves the last good id")


class interrupts(client_case):
    """Ctrl-C on a job that is still running: the job is held at a gate, so it is, whatever the machine's
    speed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        install_gate(cls.url, view="records_gated")
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--chunk-rows", "1000", "--table", "records_gated"))

    def test_interrupt_leaves_the_job_running(self):
        s, url, work = self.s, self.url, self.work
        with gated_client(s, url, work, "left.csv") as c:
            code, err = c.interrupt()
            check(code == 130, f"exit {code}: {err}")
            state = s.status(c.job)["status"]
            check(state == "running", f"after Ctrl-C without --cancel-on-interrupt the job is {state}")
            hint = f"pgexport export --job {c.job} --server {s.base} --output {c.output}"
            check(hint in err, f"the hint to attach again is missing or incomplete: {err!r}")
            c.gate.release()
        # The hint works: attaching again waits for the job and saves the same bytes as COPY.
        p = run_client("--job", c.job, "--server", s.base, "--output", c.output)
        check(p.returncode == 0, f"attaching again: exit {p.returncode}: {p.stderr.decode()}")
        check(open(c.output, "rb").read() == copy_csv(url, f"SELECT {ALL_COLUMNS} FROM records ORDER BY id"),
              "the file saved after attaching again equals COPY")

    def test_interrupt_with_cancel_cancels_the_running_job(self):
        s, url, work = self.s, self.url, self.work
        with gated_client(s, url, work, "cancelled.csv", "--cancel-on-interrupt") as c:
            code, err = c.interrupt()
            check(code == 130, f"exit {code}: {err}")
            check(f"job {c.job} cancelled" in err, f"the client does not say it cancelled the job: {err!r}")
            state = s.status(c.job)["status"]
            check(state == "cancelled", f"--cancel-on-interrupt left it {state}")
            # The cancel reached the COPY itself: nothing waits at the gate any more, before it opens.
            wait_until("the cancelled job's COPY leaves the gate", lambda: gate_waiters(url) == 0, 10)
        check(s.status(c.job)["status"] == "cancelled", "a cancelled job came back")
        check(not os.path.exists(c.output) and not os.path.exists(c.output + ".part"), "the client left a file")

    def test_interrupt_after_the_job_ended_says_so(self):
        s, url, work = self.s, self.url, self.work
        with gated_client(s, url, work, "ended.csv", "--cancel-on-interrupt") as c:
            # The client is frozen while the job finishes; the signal reaches it only after the job ended.
            c.process.send_signal(signal.SIGSTOP)
            c.gate.release()
            s.wait_completed(c.job, 60)
            c.process.send_signal(signal.SIGINT)
            c.process.send_signal(signal.SIGCONT)
            _, err = c.process.communicate(timeout=30)
            code, err = c.process.returncode, err.decode()
            check(code == 130, f"exit {code}: {err}")
            check(f"job {c.job} had already completed, nothing was cancelled" in err, f"what it said: {err!r}")
            check(f"download it with: pgexport export --job {c.job}" in err, f"no hint to download: {err!r}")
            check(s.status(c.job)["status"] == "completed", "the job did not stay completed")


class with_a_key(client_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--api-key", "k1"))

    def test_api_key_is_sent(self):
        s, url, work = self.s, self.url, self.work
        out = os.path.join(work, "keyed.csv")
        p = run_client("--server", s.base, "--api-key", "k1", "--columns", "id,amount", "--output", out)
        check(p.returncode == 0, p.stderr.decode())
        check(open(out, "rb").read() == copy_csv(url, "SELECT id, amount FROM records ORDER BY id"), "equals COPY")
        p = run_client("--server", s.base, "--api-key", "wrong", "--quiet")
        check(p.returncode == 1 and b"HTTP 401" in p.stderr, p.stderr.decode())


class on_a_terminal(client_case):
    """The client with its stderr on a pseudo-terminal, as a person runs it: the bar is redrawn in place."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # --max-rate spreads the export over a few seconds, so that the bar has several states to show.
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--chunk-rows", "500", "--max-rate", "128KiB"))

    def test_progress_bar_redraws_in_place(self):
        s, url, work = self.s, self.url, self.work
        out = os.path.join(work, "terminal.csv")
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([BINARY, "export", "--server", s.base, "--columns", "id,email", "--output", out],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            screen = b""
            while True:  # what the terminal shows, until the client closes its side (EIO)
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            stdout = p.communicate(timeout=60)[0]
        finally:
            os.close(master)
        text = screen.decode(errors="replace")
        check(p.returncode == 0, f"exit {p.returncode}: {text[-2000:]!r}")
        check(stdout.decode().strip() == out, f"stdout names the file: {stdout!r}")
        check(open(out, "rb").read() == copy_csv(url, "SELECT id, email FROM records ORDER BY id"), "the file equals COPY")
        # Each state is drawn over the last one: carriage return, erase the line, the state and its bar.
        redraws = text.split("\r\x1b[K")[1:]
        bars = [re.match(r"(\w+) \[([#-]{30})\] +(\d+)%  ([\d,]+)/([\d,]+) rows", r) for r in redraws]
        states = [(m[1], int(m[3]), int(m[4].replace(",", ""))) for m in bars if m]
        running = [pct for state, pct, _ in states if state == "running"]
        check(len(running) >= 3, f"fewer than three running states were drawn: {states}")
        check(running == sorted(running) and running[0] < running[-1],
              f"the running percentages do not rise: {running}")
        check(all("\n" not in r for r, m in zip(redraws, bars) if m and m[1] == "running"),
              "a running state ended its line instead of being drawn over")
        last = [m for m in bars if m][-1]
        check(last[1] == "completed" and last[2] == "#" * 30 and last[3] == "100" and last[4] == last[5] == "20,000",
              f"the last state drawn: {last[0] if last else None!r}")
        check(re.search(r"(\n|\x1b\[K)saved [\d,]+ bytes, 20,000 rows\r?\n$", text), f"no final line: {text[-300:]!r}")
        print(f"    {len(states)} states drawn in place; running at {running} %, then {last[0]!r}", flush=True)


if __name__ == "__main__":
    main()
