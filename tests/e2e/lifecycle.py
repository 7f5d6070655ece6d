#!/usr/bin/env python3
"""The export lifecycle through the real server: retention, expired jobs, DELETE, the sweeper.

    lifecycle.py <pgexport binary>     (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

- `serve --retention 2s`: a completed job becomes `expired` by itself, its file leaves the data directory,
  its download answers 410 `expired`, and its record goes one retention later (404);
- the sweeper removes orphan files (a `.part` and a `.csv` of a job that does not exist) while a running
  job's partial file, held at a gate through several passes, stays and the job completes;
- DELETE of a queued job cancels it (200 with the job); DELETE of a completed job answers 204, then its
  status and download are 404 and its file is gone.
Every wait polls for a state with a deadline; no sleep decides a result. One line per case, then
`N passed, M failed`."""
import datetime
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import binary, check, held_gate, install_gate, main, psql, scratch_database, seed, server, wait_until

BINARY = binary()
RETENTION = datetime.timedelta(seconds=2)
WAIT = 60  # seconds any state may take to come about on a loaded machine
# The sweeper runs every quarter retention (0.5 s here): what is due must be done within this many seconds
# of being due, a bound generous enough for a loaded machine and a sanitized build, and still a bound.
LATE = 10 * harness.SLOWDOWN


def check_error(a, status, code, what):
    check(a.status == status, f"{what}: expected {status}, got {a!r}")
    err = a.json().get("error", {})
    check(err.get("code") == code and err.get("message"), f"{what}: error body {a.body!r}")
    return err["message"]


def status_when(s, job, statuses):
    """The job's status once it is one of `statuses`."""
    return s.wait_status(job, lambda st: st["status"] in statuses, f"to be {' or '.join(statuses)}", WAIT)


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def files(data_dir, job=""):
    return sorted(n for n in os.listdir(data_dir) if n.startswith(job)) if os.path.isdir(data_dir) else []


def psql_rows(url, sql):
    return psql(url, sql).decode().split()


class lifecycle_case(unittest.TestCase):
    """A scratch database of `prefix` with 3,000 rows and the gate, and a server with `args` on it; each
    class its own, as the short retention's sweeper must not expire the DELETE test's jobs."""

    prefix, args = None, ()

    @classmethod
    def setUpClass(cls):
        url = cls.enterClassContext(scratch_database(cls.prefix))
        seed(BINARY, url, 3000)
        install_gate(url, open_below=0)
        cls.s = cls.enterClassContext(server(BINARY, url, "--table", "records", "--table", "records_gated",
                                             "--chunk-rows", "500", *cls.args))
        cls.data_dir = cls.s.data_dir


class retention(lifecycle_case):
    prefix, args = "lifecycle", ("--retention", "2s")

    def test_completed_job_expires(self):
        s, data_dir = self.s, self.data_dir
        job = s.create({"filters": {"category": "books"}, "columns": ["id", "name"]})
        st = status_when(s, job, ("completed", "expired"))
        t_completed = time.monotonic()
        check(instant(st["expiresAt"]) - instant(st["finishedAt"]) == RETENTION,
              f"expiresAt {st['expiresAt']} is not finishedAt {st['finishedAt']} + {RETENTION}")
        st = status_when(s, job, ("expired",))
        t_expired = time.monotonic()
        took = t_expired - t_completed
        check(took < RETENTION.total_seconds() + LATE, f"expired {took:.1f} s after it was seen completed "
                                                       f"(retention {RETENTION.total_seconds()} s)")
        # At once: the expired record is forgotten one retention later.
        message = check_error(s.request("GET", f"/api/export/{job}/download"), 410, "expired",
                              "download of an expired job")
        head = s.request("HEAD", f"/api/export/{job}/download")
        check(head.status == 410, f"HEAD download of an expired job: {head!r}")
        check(st["expiresAt"] in message and "new export" in message,
              f"the 410 does not say when it expired and what to do: {message!r}")
        check(st["filePath"] is None and st["downloadUrl"] is None, f"an expired job still offers a file: {st}")
        check(instant(st["expiresAt"]) - instant(st["finishedAt"]) == RETENTION, f"expired job's expiresAt: {st}")
        # The record says expired first, then the file goes (a crash in between leaves an orphan for the next pass).
        wait_until(f"the expired job's file to be deleted ({files(data_dir, job)})",
                   lambda: f"{job}.csv" not in files(data_dir), WAIT)
        metrics = s.request("GET", "/metrics").body.decode()
        check('pgexport_jobs{status="expired"} ' in metrics, "no pgexport_jobs{status=\"expired\"} in /metrics")
        # One retention as expired, then the record goes too.
        wait_until(f"the expired job {job} to be forgotten",
                   lambda: s.request("GET", f"/api/export/{job}/status").status == 404, WAIT)
        forgotten = time.monotonic() - t_expired
        check(forgotten < RETENTION.total_seconds() + LATE, f"forgotten {forgotten:.1f} s after it was seen expired "
                                                            f"(retention {RETENTION.total_seconds()} s)")
        check_error(s.request("GET", f"/api/export/{job}/download"), 404, "not_found", "download of a forgotten job")
        check(not psql_rows(s.url, f"SELECT 1 FROM export_jobs WHERE id = '{job}'"), "the forgotten job's record is there")
        print(f"    job {job[:8]} completed, expired {took:.1f} s later, forgotten {forgotten:.1f} s after that; 410: "
              f"{message}", flush=True)

    def test_orphans_go_a_running_part_stays(self):
        s, data_dir = self.s, self.data_dir
        with held_gate(s.url) as gate:
            job = s.create({"table": "records_gated"})
            gate.wait_for_waiters(1)
            part = wait_until("the running job's partial file",
                              lambda: [n for n in files(data_dir, job) if n.endswith(".part")], WAIT)
            check(status_when(s, job, ("running",))["expiresAt"] is None, "a running job has an expiresAt")
            for round_ in range(2):  # two sweeps that began after the orphans were put there
                nobody = str(uuid.uuid4())
                orphans = [f"{nobody}.3.csv.part", f"{nobody}.csv"]
                for name in orphans + [f"notes-{round_}.txt"]:
                    with open(os.path.join(data_dir, name), "w") as f:
                        f.write("not an export")
                t0 = time.monotonic()
                wait_until(f"the orphans {orphans} to be removed",
                           lambda: not any(n in files(data_dir) for n in orphans), WAIT)
                took = time.monotonic() - t0
                check(took < LATE, f"orphans removed {took:.1f} s after they appeared (a sweep every 0.5 s)")
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


class delete(lifecycle_case):
    prefix, args = "lifecycle_delete", ("--max-concurrent", "1")

    def test_delete_cancels_or_deletes(self):
        s, data_dir = self.s, self.data_dir
        with held_gate(s.url) as gate:
            running = s.create({"table": "records_gated"})
            gate.wait_for_waiters(1)
            queued = s.create({"table": "records_gated"})
            check(status_when(s, queued, ("queued",)), "the second job is not queued")
            a = s.request("DELETE", f"/api/export/{queued}")
            check(a.status == 200, f"DELETE of a queued job: {a!r}")
            check(a.json()["jobId"] == queued and a.json()["status"] == "cancelled", f"DELETE answer: {a.json()}")
            gate.release()
        st = status_when(s, running, ("completed",))
        check(f"{running}.csv" in files(data_dir), f"the completed job has no file: {files(data_dir)}")
        check(st["expiresAt"] is not None, "a completed job has no expiresAt")
        a = s.request("DELETE", f"/api/export/{running}")
        check(a.status == 204 and a.body == b"", f"DELETE of a completed job: {a!r}")
        check_error(s.request("GET", f"/api/export/{running}/status"), 404, "not_found", "status of a deleted job")
        check_error(s.request("GET", f"/api/export/{running}/download"), 404, "not_found", "download of a deleted job")
        check_error(s.request("DELETE", f"/api/export/{running}"), 404, "not_found", "a second DELETE")
        check(not files(data_dir, running), f"the deleted job left files: {files(data_dir, running)}")
        # The cancelled one is ended: DELETE removes it too.
        a = s.request("DELETE", f"/api/export/{queued}")
        check(a.status == 204, f"DELETE of a cancelled job: {a!r}")
        check_error(s.request("GET", f"/api/export/{queued}/status"), 404, "not_found", "status of a deleted cancelled job")
        check(not psql_rows(s.url, "SELECT id FROM export_jobs"), "the job store still holds deleted jobs")
        print("    queued job cancelled (200); completed and cancelled jobs deleted (204, then 404)", flush=True)


if __name__ == "__main__":
    main()
