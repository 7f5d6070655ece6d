#!/usr/bin/env python3
"""Limits and file safety of `pgexport serve`: the real server process against a real database.

    limits.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

  quota_per_key         --max-jobs-per-key 20 with two API keys: the second key's 21st job gets 429
                        too_many_jobs naming the limit while the first key still creates; a cancelled job
                        frees its place. The jobs are held at the harness's gate, so they stay queued or
                        running whatever the machine's speed.
  quota_per_address     without keys the quota is the client address's: 127.0.0.1's 4th job is refused at
                        --max-jobs-per-key 3 while 127.0.0.2 still creates.
  free_space_guard      --min-free-disk above the real free space: a new export gets 507
                        insufficient_storage; status, the list and /healthz still answer.
  running_job_waits     a 64 MiB tmpfs as the data directory, filled by the test: a running job whose file
                        system drops below --min-free-disk waits (running, "waiting" says why, one log
                        event, no attempt used) and completes byte-identical once the space is freed; new
                        exports get 507 meanwhile.
  disk_full_waits       the same tmpfs filled to the last MiB with no guard: the export's writes fail with
                        ENOSPC; the job retries without failing and completes byte-identical once the
                        space is freed.
  file_modes            the data directory is created 0700; the .part (while the job is held at the gate)
                        and the finished .csv are 0600.
  unsafe_data_dir       a group- or world-writable data directory: serve exits non-zero at once, naming it
                        and the fix; an existing 0755 directory is taken as it is, with a warning.
  large_in_list         a 100,000-value `in` list (the cap) is answered 202 while a parallel thread polls
                        /healthz (the figures are printed; the bound asserted is generous, 1 s, against the
                        several seconds of one round trip a value); the file equals COPY; 100,001 values and
                        1,001 columns get 400 naming the cap.
  descriptors           serve raises its soft RLIMIT_NOFILE to the hard limit and logs it with the
                        connection cap; a job whose file cannot be opened for want of descriptors (EMFILE:
                        the test lowers the server's limit with prlimit) retries, and completes once they
                        are back.

The tmpfs cases mount a file system, which needs root (tools/test runs as root, as it installs packages);
run as another user they fail and say so: nothing here is skipped and counted as passed. Every wait is for
a state with a deadline; the one fixed pause (running_job_waits) only gives a broken guard the time to let
the job finish, which it does in well under a second. One line per case, then `N passed, M failed`;
exit 1 when any failed. Only the standard library is used.
"""
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import (binary, check, check_same_bytes, copy_csv, held_gate, install_gate, main, psql, scratch_database,
                     seed, server, wait_until)

BINARY = binary()
ALL_COLUMNS = "id, category, created_at, name, email, amount, status, description"
ROWS = 20000


# ---------------------------------------------------------------------------------------------------------
# HTTP

class client:
    """One keep-alive connection to a server, from `source` (an address of this host) when given."""

    def __init__(self, srv, source=None, key=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60,
                                               source_address=(source, 0) if source else None)
        self.key = key

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return r.status, payload

    def create(self, body):
        return self.call("POST", "/api/export", body)

    def status(self, job_id):
        code, payload = self.call("GET", f"/api/export/{job_id}/status")
        check(code == 200, f"status of {job_id}: {code} {payload}")
        return payload

    def close(self):
        self.conn.close()


def created(answer, what):
    code, payload = answer
    check(code == 202 and isinstance(payload, dict) and "jobId" in payload, f"{what}: expected 202, got {code} {payload}")
    return payload["jobId"]


def check_error(answer, status, code, *mentions):
    got_status, payload = answer
    check(got_status == status, f"expected {status} {code}, got {got_status} {payload}")
    error = payload.get("error", {}) if isinstance(payload, dict) else {}
    check(error.get("code") == code, f"expected code {code}: {payload}")
    for m in mentions:
        check(m in error.get("message", ""), f"the message does not say {m!r}: {error.get('message')!r}")
    return error["message"]


def wait_status(c, job_id, states=("completed", "failed", "cancelled"), timeout=120):
    return wait_until(f"job {job_id} to be {'/'.join(states)}",
                      lambda: (lambda s: s if s["status"] in states else None)(c.status(job_id)), timeout)


def cancel_all(c):
    code, jobs = c.call("GET", "/api/export?limit=1000")
    check(code == 200, f"list: {code} {jobs}")
    for j in jobs:
        if j["status"] in ("queued", "running"):
            c.call("DELETE", f"/api/export/{j['jobId']}")


def forget_jobs(url):
    """No job of one case is left for the next case's server to resume."""
    psql(url, "DELETE FROM export_jobs")


def file_equals_copy(srv, job_id, url, select):
    path = os.path.join(srv.data_dir, f"{job_id}.csv")
    with open(path, "rb") as f:
        check_same_bytes(f.read(), copy_csv(url, select), path)


# ---------------------------------------------------------------------------------------------------------
# Quotas


# ---------------------------------------------------------------------------------------------------------
# Free space


class tmpfs:
    """A small tmpfs mounted for the test (root only), unmounted on exit."""

    def __init__(self, work, size_mib):
        check(os.geteuid() == 0, "this case mounts a tmpfs, which needs root: run tools/test as root")
        self.path = os.path.join(work, f"tmpfs-{size_mib}m")
        os.makedirs(self.path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", self.path],
                       check=True, capture_output=True, timeout=30)

    def free(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave_bytes):
        """A file that takes all the free space but `leave_bytes`; returns its path."""
        path = os.path.join(self.path, "filler")
        size = self.free() - leave_bytes
        check(size > 0, f"only {self.free()} bytes free, cannot leave {leave_bytes}")
        with open(path, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, size)
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.path], capture_output=True, timeout=30)


MiB = 1 << 20


# ---------------------------------------------------------------------------------------------------------
# Files

def mode(path):
    return os.stat(path).st_mode & 0o7777


# ---------------------------------------------------------------------------------------------------------
# Request size

class healthz_probe(threading.Thread):
    """Times GET /healthz on a connection of its own, back to back, until stop(): (start, end) in
    time.monotonic() seconds for each."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.times = []
        self.errors = []
        self.done = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        while not self.done.is_set():
            t0 = time.monotonic()
            try:
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    self.errors.append(r.status)
            except OSError as e:
                self.errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
            self.times.append((t0, time.monotonic()))
            time.sleep(0.005)
        conn.close()

    def stop(self):
        self.done.set()
        self.join(60)


# ---------------------------------------------------------------------------------------------------------
# Descriptors

def lowest_free_fd(pid):
    used = {int(n) for n in os.listdir(f"/proc/{pid}/fd")}
    n = 0
    while n in used:
        n += 1
    return n


class limits(unittest.TestCase):
    """One database (the gate installed) and one work directory for every case; each case's servers are
    its own, and it leaves no job behind for the next."""

    @classmethod
    def setUpClass(cls):
        cls.url = cls.enterClassContext(scratch_database("limits"))
        cls.work = cls.enterClassContext(tempfile.TemporaryDirectory(prefix="pgexport-limits-"))
        seed(BINARY, cls.url, ROWS)
        subprocess.run([BINARY, "migrate", "--database", cls.url], check=True, capture_output=True)
        install_gate(cls.url, view="records_gated")

    def test_quota_per_key(self):
        url = self.url
        with server(BINARY, url, "--table", "records_gated", "--chunk-rows", "1000", "--max-concurrent", "2",
                    "--max-jobs-per-key", "20", "--api-key", "alpha", "--api-key", "beta") as s, held_gate(url) as gate:
            alpha, beta = client(s, key="alpha"), client(s, key="beta")
            beta_jobs = [created(beta.create({}), f"beta's job {n + 1}") for n in range(20)]
            gate.wait_for_waiters(2)  # two running, held; the other eighteen queued
            message = check_error(beta.create({}), 429, "too_many_jobs", "20", "--max-jobs-per-key")
            print(f"    beta's 21st job: 429 {message}")
            created(alpha.create({}), "alpha's first job while beta is at its limit")
            counts = psql(url, "SELECT count(*) FROM export_jobs WHERE status IN ('queued', 'running')"
                               " GROUP BY quota_key ORDER BY 1").decode().split()
            check(counts == ["1", "20"], f"queued and running jobs by quota key: {counts}")
            code, payload = beta.call("DELETE", f"/api/export/{beta_jobs[-1]}")
            check(code == 200 and payload["status"] == "cancelled", f"cancel: {code} {payload}")
            created(beta.create({}), "beta's job once one of its 20 was cancelled")
            check_error(beta.create({}), 429, "too_many_jobs")
            cancel_all(alpha)
            cancel_all(beta)
        forget_jobs(url)

    def test_quota_per_address(self):
        url = self.url
        with server(BINARY, url, "--table", "records_gated", "--chunk-rows", "1000", "--max-concurrent", "1",
                    "--max-jobs-per-key", "3") as s, held_gate(url):
            here, there = client(s), client(s, source="127.0.0.2")
            for n in range(3):
                created(here.create({}), f"127.0.0.1's job {n + 1}")
            check_error(here.create({}), 429, "too_many_jobs", "--max-jobs-per-key 3")
            created(there.create({}), "127.0.0.2's first job")
            keys = psql(url, "SELECT quota_key || '=' || count(*) FROM export_jobs GROUP BY quota_key ORDER BY 1").decode().split()
            check(keys == ["addr:127.0.0.1=3", "addr:127.0.0.2=1"], f"jobs by quota key: {keys}")
            cancel_all(here)
        forget_jobs(url)

    def test_free_space_guard(self):
        url = self.url
        with server(BINARY, url, "--min-free-disk", "16777215TiB") as s:
            c = client(s)
            message = check_error(c.create({}), 507, "insufficient_storage", "--min-free-disk")
            print(f"    507 {message}")
            check(c.call("GET", "/api/export")[0] == 200, "the list does not answer 200")
            check(c.call("GET", "/healthz")[0] == 200, "/healthz does not answer 200")
            check(psql(url, "SELECT count(*) FROM export_jobs").strip() == b"0", "a refused export made a job")
        forget_jobs(url)

    def test_running_job_waits(self):
        url, work = self.url, self.work
        with tmpfs(work, 64) as fs_, held_gate(url) as gate:
            data = os.path.join(fs_.path, "exports")
            with server(BINARY, url, "--table", "records_gated", "--chunk-rows", "1000", "--min-free-disk", "32MiB",
                        data_dir=data) as s:
                c = client(s)
                job = created(c.create({}), "an export with 64 MiB free")
                gate.wait_for_waiters(1)  # running, its first chunk held
                filler = fs_.fill(16 * MiB)
                print(f"    tmpfs filled: {fs_.free() // MiB} MiB free, --min-free-disk 32MiB")
                check_error(c.create({}), 507, "insufficient_storage")
                gate.release()
                st = wait_until("the job to say it waits for space", lambda: (lambda t: t if t["waiting"] else None)(c.status(job)), 60)
                check(st["status"] == "running", f"waiting, but {st['status']}")
                print(f"    waiting after {st['rowsExported']} rows: {st['waiting']}")
                # A guard that does not hold lets the job end in well under a second: give it the chance.
                time.sleep(2)
                st = c.status(job)
                check(st["status"] == "running" and st["waiting"], f"the job did not wait: {st}")
                check(st["attempts"] == 0 and st["error"] is None, f"waiting used up an attempt: {st}")
                check(st["rowsExported"] < ROWS, f"all rows exported while short of space: {st}")
                events = [e for e in s.log_events("job_waiting_for_disk") if e.get("job") == job]
                check(len(events) == 1, f"job_waiting_for_disk logged {len(events)} times, expected once")
                os.remove(filler)
                done = wait_status(c, job)
                check(done["status"] == "completed", f"after space came back: {done}")
                check(done["attempts"] == 0, f"attempts: {done['attempts']}")
                check([e for e in s.log_events("job_disk_space_back") if e.get("job") == job], "no job_disk_space_back event")
                file_equals_copy(s, job, url, f"SELECT {ALL_COLUMNS} FROM records ORDER BY id")
        forget_jobs(url)

    def test_disk_full_waits(self):
        url, work = self.url, self.work
        with tmpfs(work, 32) as fs_:
            data = os.path.join(fs_.path, "exports")
            os.mkdir(data, 0o700)
            filler = fs_.fill(1 * MiB)
            with server(BINARY, url, "--chunk-rows", "1000", "--min-free-disk", "0", data_dir=data) as s:
                c = client(s)
                job = created(c.create({}), "an export larger than the space left")
                st = wait_until("a failed attempt (ENOSPC)", lambda: (lambda t: t if t["attempts"] >= 1 or t["status"] not in ("queued", "running") else None)(c.status(job)), 60)
                check(st["status"] == "running", f"a full disk ended the job: {st}")
                retries = [e for e in s.log_events("job_retry") if e.get("job") == job]
                check(retries and retries[0].get("class") == "no_space", f"job_retry events: {retries}")
                print(f"    {retries[0]['error']} -> retry in {retries[0]['delay_ms']} ms, class {retries[0]['class']}")
                os.remove(filler)
                done = wait_status(c, job)
                check(done["status"] == "completed", f"after space came back: {done}")
                file_equals_copy(s, job, url, f"SELECT {ALL_COLUMNS} FROM records ORDER BY id")
        forget_jobs(url)

    def test_file_modes(self):
        url, work = self.url, self.work
        data = os.path.join(work, "modes", "exports")
        with held_gate(url) as gate, server(BINARY, url, "--table", "records_gated", "--chunk-rows", "1000",
                                            data_dir=data) as s:
            check(mode(data) == 0o700, f"data directory mode {mode(data):04o}")
            c = client(s)
            job = created(c.create({}), "an export")
            gate.wait_for_waiters(1)
            parts = [n for n in os.listdir(data) if n.startswith(job) and n.endswith(".csv.part")]
            check(len(parts) == 1, f"partial files: {parts}")
            check(mode(os.path.join(data, parts[0])) == 0o600, f"{parts[0]} mode {mode(os.path.join(data, parts[0])):04o}")
            gate.release()
            done = wait_status(c, job)
            check(done["status"] == "completed", f"{done}")
            final = os.path.join(data, f"{job}.csv")
            check(mode(final) == 0o600, f"{final} mode {mode(final):04o}")
            print(f"    {data}: {mode(data):04o}; .part and .csv: 0600")
        forget_jobs(url)

    def test_unsafe_data_dir(self):
        url, work = self.url, self.work
        for perms in (0o770, 0o777, 0o1777):
            d = os.path.join(work, f"unsafe-{perms:o}")
            os.mkdir(d)
            os.chmod(d, perms)
            p = subprocess.run([BINARY, "serve", "--listen", "127.0.0.1:0", "--database", url, "--data-dir", d],
                               capture_output=True, text=True, timeout=20)
            lines = [line for line in (p.stdout + p.stderr).splitlines() if d in line]
            check(p.returncode != 0, f"serve took a data directory of mode {perms:04o}")
            check(lines and "writable by its group or by others" in lines[-1] and f"chmod 700 {d}" in lines[-1],
                  f"serve --data-dir {d} (mode {perms:04o}) exited {p.returncode} without saying why:\n{p.stdout}{p.stderr}")
            check(mode(d) == perms, f"the directory's mode was changed to {mode(d):04o}")
            print(f"    {perms:04o}: exit {p.returncode}: {lines[-1][:200]}")
        d = os.path.join(work, "readable")
        os.mkdir(d)
        os.chmod(d, 0o755)
        with server(BINARY, url, data_dir=d) as s:
            warnings = s.log_events("data_dir_readable")
            check(warnings and warnings[0].get("dir") == d, f"no data_dir_readable warning: {warnings}")
            check(mode(d) == 0o755, f"0755 became {mode(d):04o}")
            print(f"    0755: served, warning: {warnings[0]['why']}")

    def test_large_in_list(self):
        url = self.url
        ids = [3 * i for i in range(1, 100_001)]  # every third key up to 300,000: a third of the table matches
        with server(BINARY, url, "--chunk-rows", "5000") as s:
            c = client(s)
            probe = healthz_probe(s)
            probe.start()
            wait_until("the probe's first answers", lambda: len(probe.times) >= 5, 60)
            t0 = time.monotonic()
            job = created(c.create({"filters": {"id": {"in": ids}}}), "a 100,000-value in list")
            t1 = time.monotonic()
            done = wait_status(c, job)
            t2 = time.monotonic()
            probe.stop()
            check(not probe.errors, f"/healthz failed meanwhile: {probe.errors[:5]}")
            check(done["status"] == "completed", f"{done}")

            def overlapping(start, end):  # the probes that were in flight at some moment of [start, end]
                return [(b - a) * 1000 for a, b in probe.times if a < end and b > start]
            during_create, during_all = overlapping(t0, t1), overlapping(t0, t2)
            worst = max(during_all)
            print(f"    POST answered in {(t1 - t0) * 1000:.0f} ms; /healthz meanwhile: {len(during_create)} probes, max"
                  f" {max(during_create):.1f} ms; from the POST to the job's end ({len(during_all)} probes, {(t2 - t0):.1f} s):"
                  f" median {statistics.median(during_all):.1f} ms, max {worst:.1f} ms (the goal: under 100 ms)")
            check(len(during_create) >= 2, "fewer than two /healthz answers while the request was handled")
            check(t1 - t0 < 15 * harness.SLOWDOWN, f"POST of a 100,000-value in list answered in {t1 - t0:.1f} s")
            check(worst < 1000 * harness.SLOWDOWN, f"/healthz took {worst:.0f} ms while a 100,000-value list was handled")
            file_equals_copy(s, job, url, f"SELECT {ALL_COLUMNS} FROM records WHERE id % 3 = 0 AND id <= 300000 ORDER BY id")
            check_error(c.create({"filters": {"id": {"in": ids + [300_003]}}}), 400, "invalid_request",
                        "100,001 values", "at most 100,000")
            check_error(c.create({"columns": ["id"] * 1001}), 400, "invalid_request", "at most 1,000")
        forget_jobs(url)

    NO_DESCRIPTOR_VPTR_REPORT = (r"(?m)^\S+:\d+:\d+: runtime error: member (?:call on|access within) address \S+ which does"
                                 r" not point to an object of type '[^']+'\n\S+: note: object has invalid vptr\n"
                                 r"<memory cannot be printed>\n")

    def test_descriptors(self):
        url = self.url
        # UBSan's vptr check asks the kernel whether memory is readable through a pipe of its own; with no
        # descriptor left it cannot open one and reports virtual calls as "invalid vptr", without being able
        # to show the memory (and a suppressions file cannot be read then either). Those reports, and only
        # those, are this test's doing.
        with server(BINARY, url, "--chunk-rows", "1000", ignore_reports=self.NO_DESCRIPTOR_VPTR_REPORT) as s:
            pid = s.process.pid
            soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            check(soft == hard, f"the server's descriptor limit is {soft}, its hard limit {hard}")
            logged = s.log_events("descriptor_limit")
            check(logged and logged[0]["soft"] == soft and logged[0]["hard"] == hard, f"descriptor_limit: {logged}")
            cap = logged[0]["max_connections"]
            check(1 <= cap <= soft // 2, f"connection cap {cap} for {soft} descriptors")
            print(f"    soft limit {logged[0]['soft_before']} -> {soft} (hard {hard}); connection cap {cap}")

            c = client(s)
            c.call("GET", "/healthz")  # the connection is open before the limit drops
            # Every descriptor number below the limit is taken: the next open(2) in the server fails with EMFILE.
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free_fd(pid), hard))
            try:
                job = created(c.create({}), "an export while the server has no descriptor to spare")
                st = wait_until("a failed attempt (EMFILE)",
                                lambda: (lambda t: t if t["attempts"] >= 1 or t["status"] not in ("queued", "running") else None)(c.status(job)), 60)
                check(st["status"] == "running", f"running out of descriptors ended the job: {st}")
                retries = [e for e in s.log_events("job_retry") if e.get("job") == job]
                # EMFILE meets the job where it first needs a descriptor: its file (transient) or its connection's
                # socket (unavailable, as libpq reports every failed connect). Both are retried, neither fails the job.
                check(retries and retries[0].get("class") in ("transient", "unavailable")
                      and "Too many open files" in retries[0].get("error", ""),
                      f"job_retry events: {retries}")
                print(f"    {retries[0]['error']} -> retry in {retries[0]['delay_ms']} ms, class {retries[0]['class']}")
            finally:
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
            done = wait_status(c, job)
            check(done["status"] == "completed", f"once descriptors were back: {done}")
            file_equals_copy(s, job, url, f"SELECT {ALL_COLUMNS} FROM records ORDER BY id")
        forget_jobs(url)


if __name__ == "__main__":
    main()
