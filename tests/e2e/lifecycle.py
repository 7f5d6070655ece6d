#!/usr/bin/env python3
"""The export lifecycle through the real server: retention, expired jobs, DELETE, the sweeper.

    lifecycle.py <pgexport binary>     (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

- `serve --retention 2s`: a completed job becomes `expired` by itself, its file leaves the data directory,
  its download answers 410 `expired`, and its record goes one retention later (404);
- the sweeper removes orphan files (a `.part` and a `.csv` of a job that does not exist) while a running
  job's partial file, held at a gate through several passes, stays and the job completes;
- DELETE of a queued job cancels it (200 with the job); DELETE of a completed job answers 204, then its
  status and download are 404 and its file is gone.
Every wait polls for a state with a deadline; no sleep decides a result. Ends with `N passed, M failed`."""
import datetime
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid

from e2e_support import held_gate, install_gate, psql, scratch_database, server

BINARY = os.path.abspath(sys.argv[1])
RETENTION = datetime.timedelta(seconds=2)
WAIT = 60  # seconds any state may take to come about on a loaded machine


def check(ok, what):
    if not ok:
        raise AssertionError(what)


class Answer:
    def __init__(self, status, body, headers):
        self.status, self.body, self.headers = status, body, headers

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"{self.status} {self.body[:300]!r}"


def call(s, path, method="GET", body=None):
    req = urllib.request.Request(s.base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return Answer(r.status, r.read(), r.headers)
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.read(), e.headers)


def check_error(a, status, code, what):
    check(a.status == status, f"{what}: expected {status}, got {a!r}")
    err = a.json().get("error", {})
    check(err.get("code") == code and err.get("message"), f"{what}: error body {a.body!r}")
    return err["message"]


def create(s, request):
    a = call(s, "/api/export", "POST", request)
    check(a.status == 202, f"create {request}: {a!r}")
    return a.json()["jobId"]


def wait_for(what, predicate, timeout=WAIT):
    """Polls `predicate` until it returns something true; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        check(time.monotonic() < deadline, f"waited {timeout} s for {what}")
        time.sleep(0.02)


def status_when(s, job, statuses):
    """The job's status once it is one of `statuses`."""
    def probe():
        a = call(s, f"/api/export/{job}/status")
        check(a.status == 200, f"status of {job}: {a!r}")
        st = a.json()
        return st if st["status"] in statuses else None
    return wait_for(f"job {job} to be {' or '.join(statuses)}", probe)


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def files(data_dir, job=""):
    return sorted(n for n in os.listdir(data_dir) if n.startswith(job)) if os.path.isdir(data_dir) else []


def completed_job_expires(s, data_dir):
    job = create(s, {"filters": {"category": "books"}, "columns": ["id", "name"]})
    st = status_when(s, job, ("completed", "expired"))
    check(instant(st["expiresAt"]) - instant(st["finishedAt"]) == RETENTION,
          f"expiresAt {st['expiresAt']} is not finishedAt {st['finishedAt']} + {RETENTION}")
    st = status_when(s, job, ("expired",))
    # At once: the expired record is forgotten one retention later.
    message = check_error(call(s, f"/api/export/{job}/download"), 410, "expired", "download of an expired job")
    head = call(s, f"/api/export/{job}/download", "HEAD")
    check(head.status == 410, f"HEAD download of an expired job: {head!r}")
    check(st["expiresAt"] in message and "new export" in message,
          f"the 410 does not say when it expired and what to do: {message!r}")
    check(st["filePath"] is None and st["downloadUrl"] is None, f"an expired job still offers a file: {st}")
    check(instant(st["expiresAt"]) - instant(st["finishedAt"]) == RETENTION, f"expired job's expiresAt: {st}")
    # The record says expired first, then the file goes (a crash in between leaves an orphan for the next pass).
    wait_for(f"the expired job's file to be deleted ({files(data_dir, job)})", lambda: f"{job}.csv" not in files(data_dir))
    metrics = call(s, "/metrics").body.decode()
    check('pgexport_jobs{status="expired"} ' in metrics, "no pgexport_jobs{status=\"expired\"} in /metrics")
    # One retention as expired, then the record goes too.
    wait_for(f"the expired job {job} to be forgotten", lambda: call(s, f"/api/export/{job}/status").status == 404)
    check_error(call(s, f"/api/export/{job}/download"), 404, "not_found", "download of a forgotten job")
    check(not psql_rows(s.url, f"SELECT 1 FROM export_jobs WHERE id = '{job}'"), "the forgotten job's record is there")
    print(f"    job {job[:8]} completed, expired {st['expiresAt']}, forgotten; 410: {message}", flush=True)


def psql_rows(url, sql):
    return psql(url, sql).decode().split()


def orphans_go_a_running_part_stays(s, data_dir):
    with held_gate(s.url) as gate:
        job = create(s, {"table": "records_gated"})
        gate.wait_for_waiters(1)
        part = wait_for("the running job's partial file", lambda: [n for n in files(data_dir, job) if n.endswith(".part")])
        check(status_when(s, job, ("running",))["expiresAt"] is None, "a running job has an expiresAt")
        for round_ in range(2):  # two sweeps that began after the orphans were put there
            nobody = str(uuid.uuid4())
            orphans = [f"{nobody}.3.csv.part", f"{nobody}.csv"]
            for name in orphans + [f"notes-{round_}.txt"]:
                with open(os.path.join(data_dir, name), "w") as f:
                    f.write("not an export")
            wait_for(f"the orphans {orphans} to be removed",
                     lambda: not any(n in files(data_dir) for n in orphans))
            check(all(n in files(data_dir) for n in part),
                  f"the running job's partial file {part} was removed: {files(data_dir)}")
            check(f"notes-{round_}.txt" in files(data_dir), "a file not named like an export was removed")
            check(status_when(s, job, ("running",)), "the held job is not running")
        gate.release()
        st = status_when(s, job, ("completed", "expired"))
        check(st["rowsExported"] == int(psql_rows(s.url, "SELECT count(*) FROM records")[0]),
              f"the held job ended with {st['rowsExported']} rows")
    check(not [n for n in files(data_dir, job) if n.endswith(".part")], f"a partial file outlived its job: {files(data_dir)}")
    print(f"    the running job's {part} stayed through two sweeps that removed orphans; it completed", flush=True)


def delete_cancels_or_deletes(s, data_dir):
    with held_gate(s.url) as gate:
        running = create(s, {"table": "records_gated"})
        gate.wait_for_waiters(1)
        queued = create(s, {"table": "records_gated"})
        check(status_when(s, queued, ("queued",)), "the second job is not queued")
        a = call(s, f"/api/export/{queued}", "DELETE")
        check(a.status == 200, f"DELETE of a queued job: {a!r}")
        check(a.json()["jobId"] == queued and a.json()["status"] == "cancelled", f"DELETE answer: {a.json()}")
        gate.release()
    st = status_when(s, running, ("completed",))
    check(f"{running}.csv" in files(data_dir), f"the completed job has no file: {files(data_dir)}")
    check(st["expiresAt"] is not None, "a completed job has no expiresAt")
    a = call(s, f"/api/export/{running}", "DELETE")
    check(a.status == 204 and a.body == b"", f"DELETE of a completed job: {a!r}")
    check_error(call(s, f"/api/export/{running}/status"), 404, "not_found", "status of a deleted job")
    check_error(call(s, f"/api/export/{running}/download"), 404, "not_found", "download of a deleted job")
    check_error(call(s, f"/api/export/{running}", "DELETE"), 404, "not_found", "a second DELETE")
    check(not files(data_dir, running), f"the deleted job left files: {files(data_dir, running)}")
    # The cancelled one is ended: DELETE removes it too.
    a = call(s, f"/api/export/{queued}", "DELETE")
    check(a.status == 204, f"DELETE of a cancelled job: {a!r}")
    check_error(call(s, f"/api/export/{queued}/status"), 404, "not_found", "status of a deleted cancelled job")
    check(not psql_rows(s.url, "SELECT id FROM export_jobs"), "the job store still holds deleted jobs")
    print("    queued job cancelled (200); completed and cancelled jobs deleted (204, then 404)", flush=True)


def serve(url, *args):
    s = server(BINARY, url, "--table", "records", "--table", "records_gated", "--chunk-rows", "500", *args)
    s.url = url
    return s, os.path.join(s.work, "exports")


def main():
    passed = failed = 0

    def run(fn, *args):
        nonlocal passed, failed
        print(f"--- {fn.__name__}", flush=True)
        try:
            fn(*args)
            passed += 1
            print("    ok", flush=True)
        except Exception:  # noqa: BLE001 - reported, counted
            failed += 1
            traceback.print_exc()

    # Two databases: the short retention's sweeper must not expire the DELETE test's jobs.
    with scratch_database("lifecycle") as url, scratch_database("lifecycle_delete") as url2:
        for u in (url, url2):
            subprocess.run([BINARY, "seed", "--rows", "3000", "--database", u], check=True, capture_output=True)
            install_gate(u, open_below=0)
        s, data_dir = serve(url, "--retention", "2s")
        with s:
            run(completed_job_expires, s, data_dir)
            run(orphans_go_a_running_part_stays, s, data_dir)
        s, data_dir = serve(url2, "--max-concurrent", "1")
        with s:
            run(delete_cancels_or_deletes, s, data_dir)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
