#!/usr/bin/env python3
"""Several `pgexport serve` instances on one database and one data directory.

    instances.py <pgexport binary>     (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

- kills: three instances, 30 jobs of different sizes (each with a filter of its own, so that its COPY
  text names it); kill -9 a random instance at random instants five times, restarting it once its jobs
  were taken over. Every job completes byte-identical to psql's COPY; pg_stat_activity, sampled every
  50 ms, never shows one job's COPY on two backends at once.
- takeover: with a free slot, another instance takes a killed instance's job over within the lease + 2 s.
- stale: an instance stopped (SIGSTOP) mid-export past its lease; another takes the job over and
  finishes it; woken (SIGCONT), the stale instance writes nothing: the file and the row stay as they are.
- cancel: a job held running on instance A is cancelled through instance B and stops within 2 s.
- orphan: kill -9 of an instance whose COPY waits on a lock: its backend ends by itself (the export
  connections set client_connection_check_interval), so a dead instance leaves no load behind.
One line per case, then `N passed, M failed`."""
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import (binary, check, copy_csv, gate_waiters, held_gate, install_gate, main, psql, scratch_database, seed,
                     server, wait_until)

BINARY = binary()
LEASE_S = 2
# PGEXPORT_TEST_SEED=N replays a run: the seed is printed at the start.
SEED = int(os.environ.get("PGEXPORT_TEST_SEED", random.SystemRandom().randrange(1 << 30)))
RNG = random.Random(SEED)


def instance(name, url, data_dir, work, *extra):
    """One `serve` process of the service, not started yet: a name (--instance-id), the shared data
    directory, a log in `work`."""
    return server(BINARY, url, "--instance-id", name, "--lease", f"{LEASE_S}s", *extra, name=name, work=work,
                  data_dir=data_dir, start=False)


def job_row(url, job):
    out = psql(url, "SELECT status, coalesce(lease_owner, ''), lease_token, rows_exported, bytes_written,"
                    f" updated_at FROM export_jobs WHERE id = '{job}'").decode().strip()
    status, owner, token, rows, size, updated = out.split("|")
    return {"status": status, "owner": owner, "token": int(token), "rows": int(rows), "bytes": int(size),
            "updated_at": updated}


class copy_sampler(threading.Thread):
    """Samples pg_stat_activity every few milliseconds from a psql session of its own: a job's COPY (its
    text without the chunk's cursor) on two backends at once means two instances run it. Only this
    database's: tests that run beside this one may run two jobs of the same SQL at once on purpose. A
    sample that fails (the session lost) is no sample; `with_copy` counts the samples that saw a COPY
    running, `with_copies` those that saw two or more at once (the only ones that could catch a job on two
    backends). A chunk's COPY is short: sampling every 50 ms with a new psql each time saw one in 3 of
    571 samples."""

    QUERY = ("SELECT query FROM pg_stat_activity WHERE application_name = 'pgexport'"
             " AND datname = current_database() AND state = 'active' AND query LIKE 'COPY (SELECT%';")

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.halt = url, threading.Event()
        self.samples, self.with_copy, self.with_copies, self.failed, self.duplicates = 0, 0, 0, [], []

    def _session(self):
        return subprocess.Popen(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", self.url], env=harness.PSQL_ENV,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self):
        session = self._session()
        try:
            while not self.halt.is_set():
                try:
                    session.stdin.write(self.QUERY + "\n\\echo @@\n")
                    session.stdin.flush()
                    rows = []
                    for line in session.stdout:
                        if line.rstrip("\n") == "@@":
                            break
                        rows.append(line.rstrip("\n"))
                    else:
                        raise OSError(f"psql ended: {session.stderr.read()[:300]}")
                except OSError as e:
                    self.failed.append(str(e)[:300])
                    harness.terminate(session, 5)
                    session = self._session()
                else:
                    jobs = [re.sub(r' AND "id" > -?\d+', "", q) for q in rows if q]
                    self.samples += 1
                    self.with_copy += len(jobs) >= 1
                    self.with_copies += len(jobs) >= 2
                    if len(jobs) != len(set(jobs)):
                        self.duplicates.append(sorted(jobs))
                self.halt.wait(0.002)
        finally:
            harness.terminate(session, 5)

    def check(self):
        """Fails unless enough samples were taken, enough of them saw a COPY (the query does find the
        exports), and none saw one job's COPY on two backends."""
        check(len(self.failed) <= self.samples // 10, f"{len(self.failed)} psql calls of the sampler failed "
                                                      f"against {self.samples} samples: {self.failed[:3]}")
        check(self.samples > 200, f"pg_stat_activity was sampled only {self.samples} times")
        check(self.with_copy >= 5, f"only {self.with_copy} of {self.samples} samples saw an export's COPY: the"
                                   " sampler's query does not find them")
        check(not self.duplicates, f"one job's COPY on two backends at once: {self.duplicates[:3]}")


class instances(unittest.TestCase):
    """One database for every case; each case has a work and a data directory of its own, and leaves no
    job behind for the next."""

    @classmethod
    def setUpClass(cls):
        print(f"instances.py: seed {SEED} (PGEXPORT_TEST_SEED={SEED} replays it)", flush=True)
        cls.url = cls.enterClassContext(scratch_database("instances"))
        seed(BINARY, cls.url, 60000)

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix=f"pgexport-instances-{self._testMethodName}-")
        self.data_dir = os.path.join(self.work, "exports")
        # Cleanups run last first: the case's instances stop, then its jobs and files go.
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        self.addCleanup(psql, self.url, "DELETE FROM export_jobs")

    def instance(self, name, *extra):
        """An instance of the case's service, started; stopped when the case ends, also on failure."""
        inst = instance(name, self.url, self.data_dir, self.work, *extra).start()
        self.addCleanup(inst.stop, 20)
        return inst

    def test_takeover(self):
        """An instance with a free slot takes a dead instance's job over within the lease plus 2 s."""
        url, data_dir = self.url, self.data_dir
        a = self.instance("takeover-a", "--chunk-rows", "100")
        b = self.instance("takeover-b", "--chunk-rows", "100")
        times = []
        for n in range(3):
            victim, heir = (a, b) if n % 2 == 0 else (b, a)
            job = victim.create({"columns": ["id", "email"], "filters": {"id": {"gt": n}}})
            wait_until(f"{victim.name} runs the job with a checkpoint",
                     lambda: (r := job_row(url, job))["status"] == "running" and r["rows"] > 0 and r["owner"], 60)
            owner = job_row(url, job)["owner"]
            dead, alive = (a, b) if owner == a.name else (b, a)
            token = job_row(url, job)["token"]
            dead.kill()
            t0 = time.monotonic()
            wait_until("the job is taken over", lambda: job_row(url, job)["token"] > token, LEASE_S + 30)
            times.append(time.monotonic() - t0)
            check(job_row(url, job)["owner"] == alive.name, "taken over by another instance than the live one")
            st = wait_until("the job completes", lambda: (r := job_row(url, job))["status"] != "running" and r, 120)
            check(st["status"] == "completed", f"the job ended {st['status']}")
            with open(os.path.join(data_dir, f"{job}.csv"), "rb") as f:
                check(f.read() == copy_csv(url, f"SELECT id, email FROM records WHERE id > {n} ORDER BY id"),
                      "the file differs from COPY")
            dead.start()
        check(max(times) <= LEASE_S + 2 * harness.SLOWDOWN,
              f"takeovers took {', '.join(f'{t:.2f}' for t in times)} s (lease {LEASE_S} s + {2 * harness.SLOWDOWN} s)")
        print(f"    takeover after kill -9: {', '.join(f'{t:.2f} s' for t in times)} (lease {LEASE_S} s)", flush=True)

    def test_kills(self):
        url, work, data_dir = self.url, self.work, self.data_dir
        psql(url, "SELECT 1")
        sizes = [RNG.randrange(20000, 60000) for _ in range(30)]
        sizes = [s + i for i, s in enumerate(sizes)]  # distinct bounds: each job's COPY names it
        # Thirty jobs at once from one address: more than the default per-client quota (--max-jobs-per-key).
        insts = [instance(f"inst-{i}", url, data_dir, work, "--chunk-rows", "25", "--max-concurrent", "2",
                          "--max-jobs-per-key", "0").start()
                 for i in range(3)]
        sampler = copy_sampler(url)
        sampler.start()
        takeovers = []
        try:
            jobs = {}
            for i, bound in enumerate(sizes):
                columns = ["id", "name", "description"] if i % 2 else ["description", "id", "amount"]
                jobs[insts[i % 3].create({"filters": {"id": {"lte": bound}}, "columns": columns})] = \
                    f"SELECT {', '.join(columns)} FROM records WHERE id <= {bound} ORDER BY id"
            for n in range(5):
                # A random instance among those running a job, at a random instant of its work.
                time.sleep(RNG.uniform(0.0, 0.6))
                holders = wait_until(f"kill #{n + 1}: an instance runs a job (jobs by status: " + psql(
                    url, "SELECT string_agg(status || ' ' || n, ', ') FROM (SELECT status, count(*) n FROM export_jobs"
                         " GROUP BY 1) s").decode().strip() + ")", lambda: psql(
                    url, "SELECT DISTINCT lease_owner FROM export_jobs WHERE status = 'running'"
                         " AND lease_expires_at > now()").decode().split(), 60)
                chosen = RNG.choice(sorted(holders))
                victim = next(i for i in insts if i.name == chosen)
                victim.kill()
                t_kill = time.monotonic()
                leased = psql(url, "SELECT id, lease_token FROM export_jobs WHERE status = 'running'"
                                   f" AND lease_owner = '{victim.name}'").decode().split()
                check(leased, f"kill #{n + 1}: {victim.name} held no lease when it was killed")
                if n % 2 == 0:
                    # Every other kill: the instance stays down until its jobs were taken over by the others.
                    for line in leased:
                        job, token = line.split("|")
                        wait_until(f"job {job} taken over after {victim.name} was killed",
                                 lambda: job_row(url, job)["token"] > int(token) or job_row(url, job)["status"] != "running",
                                 LEASE_S + 60 * harness.SLOWDOWN)
                        if job_row(url, job)["owner"] != victim.name:
                            takeovers.append(time.monotonic() - t_kill)
                print(f"  kill #{n + 1}: {victim.name} with {len(leased)} job(s) leased", flush=True)
                victim.start()
            for job, select in jobs.items():
                st = wait_until(f"job {job} ends", lambda: job_row(url, job)["status"] not in ("queued", "running") and
                              job_row(url, job), 300)
                check(st["status"] == "completed", f"job {job} ended {st['status']}")
                with open(os.path.join(data_dir, f"{job}.csv"), "rb") as f:
                    check(f.read() == copy_csv(url, select), f"job {job}: the file differs from COPY ({select})")
            leftovers = [n for n in os.listdir(data_dir) if n.endswith(".part")]
            check(not leftovers, f"partial files left: {leftovers}")
        finally:
            sampler.halt.set()
            sampler.join()
            for inst in insts:
                inst.stop(20)
        sampler.check()
        check(takeovers, "no kill hit a running job: nothing was taken over")
        # Here the other instances' slots are mostly full (30 jobs, 2 slots each): a takeover waits for a free
        # slot as well as for the lease, so the times are reported; `takeover` below measures the bound.
        print(f"    {len(jobs)} jobs byte-identical; {sampler.samples} samples of pg_stat_activity ({sampler.with_copy}"
              f" with a COPY, {sampler.with_copies} with several), no job on two backends; {len(takeovers)} takeovers in {min(takeovers):.2f}..{max(takeovers):.2f} s "
              f"(lease {LEASE_S} s, slots busy)", flush=True)

    def test_stale(self):
        url, data_dir = self.url, self.data_dir
        a = self.instance("stale-a", "--chunk-rows", "200")
        job = a.create({"columns": ["id", "description"]})
        wait_until("the job runs on stale-a with a checkpoint",
                 lambda: (r := job_row(url, job))["owner"] == "stale-a" and r["rows"] > 0 and r["status"] == "running", 60)
        a.process.send_signal(signal.SIGSTOP)
        self.instance("stale-b", "--chunk-rows", "200")
        done = wait_until("stale-b takes the job over and completes it",
                        lambda: (r := job_row(url, job))["status"] == "completed" and r, 120)
        check(done["owner"] == "stale-b", f"completed by {done['owner']}")
        final = os.path.join(data_dir, f"{job}.csv")
        before = (os.stat(final).st_ino, os.stat(final).st_mtime_ns, hashlib.sha256(open(final, "rb").read()).hexdigest())
        a.process.send_signal(signal.SIGCONT)
        wait_until("stale-a notices that it lost the lease", lambda: a.log_events("job_left"), 30)
        after = (os.stat(final).st_ino, os.stat(final).st_mtime_ns, hashlib.sha256(open(final, "rb").read()).hexdigest())
        check(after == before, "the stale instance touched the finished file")
        check(job_row(url, job) == done, f"the stale instance changed the record: {done} -> {job_row(url, job)}")
        check(open(final, "rb").read() == copy_csv(url, "SELECT id, description FROM records ORDER BY id"),
              "the file differs from COPY")
        parts = [n for n in os.listdir(data_dir) if n.startswith(job) and n.endswith(".part")]
        check(not parts, f"partial files after the stale instance woke: {parts}")
        print(f"    stale-a woke after stale-b completed the job; file and record unchanged", flush=True)

    def test_cancel(self):
        url, data_dir = self.url, self.data_dir
        install_gate(url, open_below=1000)
        a = self.instance("cancel-a", "--table", "records_gated", "--chunk-rows", "500")
        with held_gate(url) as gate:
            job = a.create({})
            gate.wait_for_waiters(1)
            b = self.instance("cancel-b", "--table", "records_gated")
            check(job_row(url, job)["owner"] == "cancel-a", "the job does not run on cancel-a")
            t0 = time.monotonic()
            r = b.request("DELETE", f"/api/export/{job}")
            check(r.status == 200 and r.json()["status"] == "cancelled", f"DELETE through cancel-b: {r!r}")
            wait_until("cancel-a stops the job", lambda: a.log_events("job_cancelled") and gate_waiters(url) == 0, 10)
            took = time.monotonic() - t0
        bound = 2 * harness.SLOWDOWN
        check(took <= bound, f"the job stopped {took:.2f} s after the cancel (at most {bound} s)")
        check(job_row(url, job)["status"] == "cancelled", "the job is not cancelled")
        parts = [n for n in os.listdir(data_dir) if n.startswith(job)]
        check(not parts, f"files of the cancelled job: {parts}")
        print(f"    a cancel through cancel-b stopped the job on cancel-a in {took:.2f} s", flush=True)

    def test_orphan(self):
        """kill -9 of an instance whose COPY waits (on the gate's lock): its backend notices the dead client and
        ends within a few seconds instead of waiting for ever, while the gate is still held."""
        url = self.url
        install_gate(url, open_below=1000)
        a = self.instance("orphan-a", "--table", "records_gated", "--chunk-rows", "500")
        with held_gate(url) as gate:
            a.create({})
            gate.wait_for_waiters(1)
            a.kill()
            t0 = time.monotonic()
            wait_until("the dead instance's backend ends", lambda: gate_waiters(url) == 0, 30)
            took = time.monotonic() - t0
        print(f"    the orphaned COPY ended {took:.2f} s after kill -9 (gate still held)", flush=True)


if __name__ == "__main__":
    main()
