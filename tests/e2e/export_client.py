#!/usr/bin/env python3
"""`pgexport export`, the client, against a real server and database.

    export_client.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

Checks: the round trip saves a file equal to COPY; --quiet prints nothing; plain lines when not on a
terminal; a refused request and a failed job exit non-zero with the server's message; a partial
download resumes with Range (the server answers 206); --job attaches; Ctrl-C leaves the job running,
--cancel-on-interrupt cancels it, and says so when the job had already ended (each made certain with a
gate that holds the job still); API keys. Ends with `N passed, M failed`."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from e2e_support import copy_csv, gate_waiters, held_gate, install_gate, scratch_database, server, test_runner

BINARY = os.path.abspath(sys.argv[1])
ALL_COLUMNS = "id, category, created_at, name, email, amount, status, description"
RUNNER = test_runner()
run = RUNNER.run


def run_client(*args, timeout=120, **kw):
    return subprocess.run([BINARY, "export", *args], capture_output=True, timeout=timeout, **kw)


def api(base, path, method="GET", body=None, key=None):
    req = urllib.request.Request(base + path, method=method, data=body.encode() if body else None)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def check(ok, what):
    if not ok:
        raise AssertionError(what)


def round_trip_equals_copy(s, url, work):
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


def quiet_prints_nothing_and_default_name(s, url, work):
    p = run_client("--server", s.base, "--quiet", "--columns", "id", cwd=work)
    check(p.returncode == 0, p.stderr.decode())
    check(p.stderr == b"", f"--quiet printed {p.stderr!r}")
    name = p.stdout.decode().strip()
    check(name.startswith("export-") and name.endswith(".csv"), name)
    check(open(os.path.join(work, name), "rb").read() == copy_csv(url, "SELECT id FROM records ORDER BY id"),
          "default-named file equals COPY")


def refused_request_exits_with_the_server_message(s, url, work):
    p = run_client("--server", s.base, "--filters", '{"amount": "not a number"}')
    check(p.returncode == 1, f"exit {p.returncode}")
    check(b"invalid input syntax for type numeric" in p.stderr, p.stderr.decode())
    p = run_client("--server", s.base, "--columns", "nope")
    check(p.returncode == 1 and b"unknown column" in p.stderr, p.stderr.decode())
    p = run_client("--server", s.base, "--filters", "[1]")
    check(p.returncode == 2 and b"--filters" in p.stderr, p.stderr.decode())
    p = run_client("--server", "http://127.0.0.1:9", "--quiet")
    check(p.returncode == 1 and b"cannot connect" in p.stderr, p.stderr.decode())


def partial_download_resumes_with_range(s, url, work):
    job = api(s.base, "/api/export", "POST", '{"columns": ["id", "email"]}')["jobId"]
    deadline = time.time() + 60
    while api(s.base, f"/api/export/{job}/status")["status"] != "completed":
        check(time.time() < deadline, "the job did not complete in 60 s")
        time.sleep(0.05)
    expected = copy_csv(url, "SELECT id, email FROM records ORDER BY id")
    out = os.path.join(work, "resumed.csv")
    with open(out + ".part", "wb") as f:
        f.write(expected[: len(expected) // 3])  # what a broken download left
    p = run_client("--server", s.base, "--job", job, "--output", out)
    check(p.returncode == 0, p.stderr.decode())
    check(open(out, "rb").read() == expected, "the resumed file equals COPY")
    check(f'"target":"/api/export/{job}/download","status":206' in s.log_tail(400000),
          "the server answered the resumed download with 206")


class gated_client:
    """`pgexport export` on a job held at the gate: the job is running and cannot end until release()."""

    def __init__(self, s, url, work, name, *extra):
        self.gate = held_gate(url)
        self.output = os.path.join(work, name)
        self.process = subprocess.Popen([BINARY, "export", "--server", s.base, "--output", self.output, *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.gate.wait_for_waiters(1)
        jobs = api(s.base, "/api/export")
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


def interrupt_leaves_the_job_running(s, url, work):
    with gated_client(s, url, work, "left.csv") as c:
        code, err = c.interrupt()
        check(code == 130, f"exit {code}: {err}")
        state = api(s.base, f"/api/export/{c.job}/status")["status"]
        check(state == "running", f"after Ctrl-C without --cancel-on-interrupt the job is {state}")
        hint = f"pgexport export --job {c.job} --server {s.base} --output {c.output}"
        check(hint in err, f"the hint to attach again is missing or incomplete: {err!r}")
        c.gate.release()
    # The hint works: attaching again waits for the job and saves the same bytes as COPY.
    p = run_client("--job", c.job, "--server", s.base, "--output", c.output)
    check(p.returncode == 0, f"attaching again: exit {p.returncode}: {p.stderr.decode()}")
    check(open(c.output, "rb").read() == copy_csv(url, f"SELECT {ALL_COLUMNS} FROM records ORDER BY id"),
          "the file saved after attaching again equals COPY")


def interrupt_with_cancel_cancels_the_running_job(s, url, work):
    with gated_client(s, url, work, "cancelled.csv", "--cancel-on-interrupt") as c:
        code, err = c.interrupt()
        check(code == 130, f"exit {code}: {err}")
        check(f"job {c.job} cancelled" in err, f"the client does not say it cancelled the job: {err!r}")
        state = api(s.base, f"/api/export/{c.job}/status")["status"]
        check(state == "cancelled", f"--cancel-on-interrupt left it {state}")
        # The cancel reached the COPY itself: nothing waits at the gate any more, before it opens.
        deadline = time.time() + 10
        while gate_waiters(url):
            check(time.time() < deadline, "the cancelled job's COPY still waits at the gate after 10 s")
            time.sleep(0.02)
    check(api(s.base, f"/api/export/{c.job}/status")["status"] == "cancelled", "a cancelled job came back")
    check(not os.path.exists(c.output) and not os.path.exists(c.output + ".part"), "the client left a file")


def interrupt_after_the_job_ended_says_so(s, url, work):
    with gated_client(s, url, work, "ended.csv", "--cancel-on-interrupt") as c:
        # The client is frozen while the job finishes; the signal reaches it only after the job ended.
        c.process.send_signal(signal.SIGSTOP)
        c.gate.release()
        deadline = time.time() + 60
        while api(s.base, f"/api/export/{c.job}/status")["status"] != "completed":
            check(time.time() < deadline, "the job did not complete within 60 s of opening the gate")
            time.sleep(0.05)
        c.process.send_signal(signal.SIGINT)
        c.process.send_signal(signal.SIGCONT)
        _, err = c.process.communicate(timeout=30)
        code, err = c.process.returncode, err.decode()
        check(code == 130, f"exit {code}: {err}")
        check(f"job {c.job} had already completed, nothing was cancelled" in err, f"what it said: {err!r}")
        check(f"download it with: pgexport export --job {c.job}" in err, f"no hint to download: {err!r}")
        check(api(s.base, f"/api/export/{c.job}/status")["status"] == "completed", "the job did not stay completed")


def api_key_is_sent(s, url, work):
    out = os.path.join(work, "keyed.csv")
    p = run_client("--server", s.base, "--api-key", "k1", "--columns", "id,amount", "--output", out)
    check(p.returncode == 0, p.stderr.decode())
    check(open(out, "rb").read() == copy_csv(url, "SELECT id, amount FROM records ORDER BY id"), "equals COPY")
    p = run_client("--server", s.base, "--api-key", "wrong", "--quiet")
    check(p.returncode == 1 and b"HTTP 401" in p.stderr, p.stderr.decode())


def main():
    with scratch_database("client") as url, tempfile.TemporaryDirectory() as work:
        subprocess.run([BINARY, "seed", "--rows", "20000", "--database", url], check=True, capture_output=True)
        with server(BINARY, url, "--chunk-rows", "100") as s:
            for fn in (round_trip_equals_copy, quiet_prints_nothing_and_default_name,
                       refused_request_exits_with_the_server_message, partial_download_resumes_with_range):
                run(fn, s, url, work)
        # Ctrl-C on a job that is still running: the job is held at a gate, so it is, whatever the machine's speed.
        install_gate(url, view="records_gated")
        with server(BINARY, url, "--chunk-rows", "1000", "--table", "records_gated") as s:
            for fn in (interrupt_leaves_the_job_running, interrupt_with_cancel_cancels_the_running_job,
                       interrupt_after_the_job_ended_says_so):
                run(fn, s, url, work)
        with server(BINARY, url, "--api-key", "k1") as s:
            run(api_key_is_sent, s, url, work)
    return RUNNER.summary()


if __name__ == "__main__":
    sys.exit(main())
