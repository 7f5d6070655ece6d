#!/usr/bin/env python3
"""Fencing: an instance cut off from the database (not from the shared data directory) can never harm the
instance that took its job over.

    fencing.py <pgexport binary>     (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

Instance A reaches PostgreSQL through a TCP proxy the test controls; B reaches it directly; both share one
data directory. A runs a job that a gate holds still mid-export; the proxy cuts A off; B takes the job over
once A's lease has run out and is held at the same gate. A's path then comes back either before B has
finished (A must find its lease lost and leave) or after (A must find the job completed by B). Either way:
- the job completes byte-identical to psql's COPY;
- no file of B's is removed or replaced: B's partial file outlives A's return, and the published file is
  B's partial file itself (the same inode: a link, never a rename or a copy over it);
- A stopped its file work before its lease could have run out (`job_suspended`) and logs `lease_lost`.
The same with `"parallelism": 3` and with `--storage s3://`.

- storage: two instances on one database with different data directories: a job runs only on an instance
  of the data directory it was created on; the other neither claims it nor serves its file (a clear 409)."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (S3_CREDENTIALS, binary, check, copy_to_file, compare_file, gate_waiters, held_gate,  # noqa: E402
                     install_gate, main, psql, s3_server, scratch_database, seed, server, tcp_proxy, wait_until)

BINARY = binary()
ROWS = 30_000
HELD_AT = 12_000  # rows up to here export at once; the chunk after them waits while the gate is held
LEASE = "2s"
WAIT = 120


def job_row(url, job):
    out = psql(url, "SELECT status, coalesce(lease_owner, ''), lease_token, rows_exported"
                    f" FROM export_jobs WHERE id = '{job}'").decode().strip()
    status, owner, token, rows = out.split("|")
    return {"status": status, "owner": owner, "token": int(token), "rows": int(rows)}


def partial_files(data_dir, job, token=None):
    """The job's partial files in the data directory (of lease `token` only, when given): name -> inode."""
    found = {}
    for name in os.listdir(data_dir):
        if not name.startswith(job + ".") or not name.endswith(".part"):
            continue
        if token is not None and name.split(".")[1] != str(token):
            continue
        try:
            found[name] = os.stat(os.path.join(data_dir, name)).st_ino
        except FileNotFoundError:
            pass
    return found


class cut_off(unittest.TestCase):
    """One database for every case; each case has its own work and data directory and its own instances."""

    @classmethod
    def setUpClass(cls):
        cls.url = cls.enterClassContext(scratch_database("fencing"))
        seed(BINARY, cls.url, ROWS)
        install_gate(cls.url, open_below=HELD_AT)
        cls.reference = os.path.join(tempfile.mkdtemp(prefix="pgexport-fencing-ref-"), "records.csv")
        copy_to_file(cls.url, "SELECT * FROM records_gated ORDER BY id", cls.reference)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(os.path.dirname(cls.reference), ignore_errors=True)

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix=f"pgexport-fencing-{self._testMethodName}-")
        self.data_dir = os.path.join(self.work, "exports")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        self.addCleanup(psql, self.url, "DELETE FROM export_jobs")

    def instance(self, name, url, *extra):
        inst = server(BINARY, url, "--instance-id", name, "--lease", LEASE, "--table", "records_gated",
                      "--chunk-rows", "1000", "--min-slice-rows", "1", *extra, name=name, work=self.work,
                      data_dir=self.data_dir, start=False)
        self.addCleanup(inst.close)
        return inst

    def partition(self, body, restore_before_finish, extra=(), object_of=None):
        """The scenario of the module's docstring; `object_of(job)`: the finished export's bytes when they
        are not in the data directory (object storage)."""
        url = self.url
        proxy = tcp_proxy.to_url(url)
        self.addCleanup(proxy.close)
        a = self.instance("A", proxy.url(url), *extra)
        b = self.instance("B", url, *extra)
        with held_gate(url) as gate:
            a.start()
            job = a.create(body)
            wait_until("A runs the job up to the gate",
                       lambda: (r := job_row(url, job))["owner"] == "A" and r["rows"] >= HELD_AT // 2
                       and gate_waiters(url) >= 1, WAIT)
            b.start()
            proxy.cut()
            # B takes the job over once A's lease has run out, and waits at the same gate.
            wait_until("B takes the job over", lambda: (r := job_row(url, job))["owner"] == "B" and r["token"] >= 2,
                       WAIT)
            token_b = job_row(url, job)["token"]
            if object_of is None:
                files_b = wait_until("B's partial files", lambda: partial_files(self.data_dir, job, token_b), WAIT)
            wait_until("B at the gate", lambda: gate_waiters(url) >= 1, WAIT)
            wait_until("A stops its file work (job_suspended)", lambda: a.log_events("job_suspended"), WAIT)
            if restore_before_finish:
                proxy.restore()
                wait_until("A logs that it lost the lease", lambda: a.log_events("lease_lost"), WAIT)
                if object_of is None:
                    now = partial_files(self.data_dir, job, token_b)
                    check(now == files_b, f"B's partial files changed while A came back: {files_b} -> {now}")
            gate.release()
            status = b.wait_completed(job, timeout=WAIT)
            check(status["instance"] is None, f"a completed job names an instance: {status}")
        if not restore_before_finish:
            proxy.restore()
            wait_until("A logs that it lost the lease", lambda: a.log_events("lease_lost"), WAIT)
        row = job_row(url, job)
        check(row["status"] == "completed" and row["owner"] == "B", f"the job ended as {row}")
        if object_of is not None:
            got = os.path.join(self.work, "object")
            with open(got, "wb") as f:
                f.write(object_of(job))
            compare_file(got, self.reference, "the object")
        else:
            final = os.path.join(self.data_dir, f"{job}.csv")
            compare_file(final, self.reference, "the published file")
            if len(files_b) == 1:
                # One stream: the published file is B's own partial file, linked, never replaced.
                check(os.stat(final).st_ino == next(iter(files_b.values())),
                      "the published file is not B's partial file (replaced or copied over)")
        for name in ("job_published", "job_completed"):
            check(not a.log_events(name), f"A, cut off, logged {name}")
        check(b.log_events("job_completed"), "B did not log job_completed")
        a.stop()
        b.stop()
        leftovers = [n for n in os.listdir(self.data_dir) if n.startswith(job) and n.endswith(".part")]
        check(not leftovers, f"partial files left behind: {leftovers}")

    def test_restored_before_b_finishes(self):
        self.partition({}, restore_before_finish=True)

    def test_restored_after_b_finishes(self):
        self.partition({}, restore_before_finish=False)

    def test_parallel(self):
        self.partition({"parallelism": 3}, restore_before_finish=True)

    def test_object_storage(self):
        with s3_server(bucket="exports", work=self.work) as s3:
            os.environ.update(S3_CREDENTIALS)
            self.partition({}, restore_before_finish=False,
                           extra=("--storage", "s3://exports/fencing", "--s3-endpoint", s3.endpoint,
                                  "--s3-part-size", "5MiB"),
                           object_of=lambda job: s3.get_object(f"fencing/{job}"))


class storage_identity(unittest.TestCase):
    """Two instances on one database, each with a data directory of its own."""

    def test_jobs_stay_with_their_data_directory(self):
        with scratch_database("fencing_storage") as url:
            seed(BINARY, url, 5000)
            work = tempfile.mkdtemp(prefix="pgexport-fencing-storage-")
            self.addCleanup(shutil.rmtree, work, ignore_errors=True)
            x = server(BINARY, url, "--instance-id", "X", name="X", work=work)
            y = server(BINARY, url, "--instance-id", "Y", name="Y", work=work)
            self.addCleanup(x.close)
            self.addCleanup(y.close)
            check(x.data_dir != y.data_dir, "the two instances share a data directory")
            for creator, other in ((x, y), (y, x)):
                for _ in range(4):
                    job = creator.create({"columns": ["id", "name"]})
                    status = creator.wait_completed(job, timeout=WAIT)
                    check(os.path.exists(os.path.join(creator.data_dir, f"{job}.csv")),
                          f"job {job} was not written into its creator's data directory")
                    ran_on = psql(url, f"SELECT lease_owner FROM export_jobs WHERE id = '{job}'").decode().strip()
                    check(ran_on == creator.name, f"job {job}, created on {creator.name}, ran on {ran_on}")
                    r = other.request("GET", f"/api/export/{job}/download")
                    check(r.status == 409 and r.json()["error"]["code"] == "other_storage",
                          f"download through the other instance: {r.status} {r.body[:200]!r}")
                    check(status["status"] == "completed", f"job ended {status}")
            check(x.log_events("storage_identity") and y.log_events("storage_identity"),
                  "an instance did not log its storage identity")


if __name__ == "__main__":
    main()
