#!/usr/bin/env python3
"""`pgexport export`, the client, against a real server and database.

    export_client.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

Checks: the round trip saves a file equal to COPY; --quiet prints nothing; plain lines when not on a
terminal; a refused request and a failed job exit non-zero with the server's message; a partial
download resumes with Range (the server answers 206); --job attaches; Ctrl-C leaves the job running,
--cancel-on-interrupt cancels it; API keys. Ends with `N passed, M failed`."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

from e2e_support import copy_csv, scratch_database, server

BINARY = os.path.abspath(sys.argv[1])
passed = failed = 0


def run(fn, *args):
    """Runs one test and counts it."""
    global passed, failed
    print(f"--- {fn.__name__}", flush=True)
    try:
        fn(*args)
        passed += 1
        print("    ok", flush=True)
    except Exception:
        failed += 1
        traceback.print_exc()


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


def interrupt_leaves_the_job_running_unless_asked(s, url, work):
    for cancel in (False, True):
        args = ["--server", s.base, "--output", os.path.join(work, f"int{cancel}.csv"),
                "--filters", '{"id": {"lte": 15000}}']
        if cancel:
            args.append("--cancel-on-interrupt")
        p = subprocess.Popen([BINARY, "export", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Interrupt once the job exists (the client has said so).
        deadline = time.time() + 30
        while not any(j["request"]["filters"].get("id") and j["status"] in ("queued", "running")
                      for j in api(s.base, "/api/export")):
            check(time.time() < deadline and p.poll() is None, "the job never showed up running")
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        job = next(j for j in api(s.base, "/api/export") if j["request"]["filters"].get("id"))
        state = api(s.base, f"/api/export/{job['jobId']}/status")["status"]
        if p.returncode == 0:
            continue  # the job finished before the signal: nothing to judge this round
        check(p.returncode == 130, f"exit {p.returncode}: {err.decode()}")
        if cancel:
            check(state == "cancelled", f"--cancel-on-interrupt left it {state}")
        else:
            check(state in ("queued", "running", "completed"), f"job was {state}")
            check(b"--job" in err, "says how to attach again")
            if state in ("queued", "running"):
                api(s.base, f"/api/export/{job['jobId']}", "DELETE")


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
                       refused_request_exits_with_the_server_message, partial_download_resumes_with_range,
                       interrupt_leaves_the_job_running_unless_asked):
                run(fn, s, url, work)
        with server(BINARY, url, "--api-key", "k1") as s:
            run(api_key_is_sent, s, url, work)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
