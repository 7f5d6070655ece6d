#!/usr/bin/env python3
"""Database protection: --max-rate holds an export to its pace by not reading the database's socket, and
--gentle pauses an export between chunks while other sessions keep the database busy (pgbench), shows why
in status's "waiting", and goes on when the load stops. Both files byte-identical to PostgreSQL's COPY; a
cancel ends a throttled job at once; the lease is kept during a pause.

    throttle.py <pgexport binary>        (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

One line per case, then `N passed, M failed`."""
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (binary, call, check, copy_csv, main, psql, scratch_database, seed, server, terminate,
                     wait_until)

BINARY = binary()
ALL_COLUMNS = "id, category, created_at, name, email, amount, status, description"
FULL = f"SELECT {ALL_COLUMNS} FROM records ORDER BY id"
ROWS = 400_000  # about 51 MB of CSV


def export_copy_waits(url):
    """The wait events of pgexport's COPY backends now."""
    out = psql(url, "SELECT coalesce(wait_event, 'CPU') FROM pg_stat_activity"
                    " WHERE application_name = 'pgexport' AND query LIKE 'COPY%' AND state = 'active'")
    return out.decode().split()


def stops_at_once(s, job):
    """DELETE a running job: it is cancelled, and this instance stops running it within 2 s."""
    status, body = call(s.base, f"/api/export/{job}", "DELETE")
    check(status == 200 and body["status"] == "cancelled", f"cancel: {status} {body}")
    t0 = time.monotonic()
    wait_until("the cancelled job still runs here", lambda: s.metric("pgexport_jobs_running_here") == 0, 2)
    left = [f for f in os.listdir(s.data_dir) if f.startswith(job)]
    check(not left, f"files of the cancelled job remain: {left}")
    return time.monotonic() - t0


class pgbench:
    """pgbench (tpcb-like, 4 clients) against `url` until stopped; its tables made first."""

    def __init__(self, url):
        binary = shutil.which("pgbench")
        if not binary:
            bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
            binary = os.path.join(bindir, "pgbench")
        subprocess.run([binary, "-i", "-q", "-s", "1", url], check=True, capture_output=True, timeout=300)
        self.process = subprocess.Popen([binary, "-c", "4", "-j", "2", "-T", "600", url],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Running once its clients are at work (what --gentle samples): other sessions in a statement or a
        # transaction, not pgexport's.
        wait_until("pgbench's clients at work", lambda: self.busy_sessions(url) >= 2, 60)

    @staticmethod
    def busy_sessions(url):
        return int(psql(url, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                             " AND application_name = 'pgbench' AND state <> 'idle'").decode().strip() or 0)

    def stop(self):
        terminate(self.process, sig=signal.SIGINT)


class throttle(unittest.TestCase):
    """A scratch database with ROWS rows, shared by the cases."""

    @classmethod
    def setUpClass(cls):
        cls.url = cls.enterClassContext(scratch_database("pgexport_throttle"))
        seed(BINARY, cls.url, ROWS, timeout=600)
        psql(cls.url, "VACUUM (ANALYZE) records")

    def test_max_rate_holds_the_pace(self):
        url = self.url
        # Chunks of about 13 MB: more than the socket's buffers hold, so the backend has to wait for pgexport to
        # read on (with 1 MB chunks the kernel takes a whole chunk and the backend is done before it waits).
        with server(BINARY, url, "--max-rate", "5MiB", "--chunk-rows", "100000") as s:
            t0 = time.monotonic()
            job = s.create()
            seen_waiting, throttled, waits = set(), 0.0, set()
            while (st := s.status(job))["status"] in ("queued", "running"):
                check(time.monotonic() - t0 < 60, f"a 5 MiB/s export of {ROWS:,} rows still runs after 60 s: {st}")
                if st["waiting"]:
                    seen_waiting.add(st["waiting"])
                if st["throttledSeconds"]:
                    throttled = max(throttled, st["throttledSeconds"]["maxRate"])
                waits.update(export_copy_waits(url))
                time.sleep(0.05)
            seconds = time.monotonic() - t0
            check(st["status"] == "completed", f"ended {st['status']}: {st.get('error')}")
            got = s.download(job)
            mib = len(got) / 2**20
            print(f"    {mib:.1f} MiB at --max-rate 5MiB in {seconds:.1f} s ({mib / seconds:.2f} MiB/s); waiting: "
                  f"{sorted(seen_waiting)}; COPY backend wait events seen: {sorted(waits)}", flush=True)
            check(got == copy_csv(url, FULL), "the file differs from COPY")
            check(mib >= 45, f"the export is too small to measure a rate: {mib:.1f} MiB")
            expected = mib / 5
            check(0.7 * expected <= seconds <= 2 * expected,
                  f"{mib:.1f} MiB at 5 MiB/s took {seconds:.1f} s, expected about {expected:.1f} s")
            check(seen_waiting == {"rate limit: 5.0 MiB/s (--max-rate)"}, f"waiting said {seen_waiting}")
            check(throttled > 1, f"throttledSeconds.maxRate stayed at {throttled}")
            # Backpressure, not buffering: held back, PostgreSQL's backend waits to write to the socket.
            check("ClientWrite" in waits, f"the COPY backend never waited on its client: {waits}")
            # Status rounds to the millisecond (9.0 for 8.9996), the metric does not.
            metric = s.metric("pgexport_throttled_seconds_total", '{cause="max_rate"}')
            check(metric >= throttled - 0.0005, f"the metric counts less than the job's status: {metric} < {throttled}")
            check(s.metric("pgexport_throttled_seconds_total", '{cause="gentle"}') == 0, "gentle counted")

            # A cancel ends a job held back by the rate at once.
            job = s.create()
            wait_until("the second job writes", lambda: s.status(job)["bytesWritten"] > 2**20, 30)
            print(f"    cancelled under --max-rate, stopped in {stops_at_once(s, job):.2f} s", flush=True)

    def test_gentle_yields_to_pgbench(self):
        url = self.url
        # Large chunks and a 1 % floor make long pauses (99 times a chunk, up to a minute): a cancel or a lease
        # that waited for a pause to end would show. The lease is short: a pause that let it lapse would let
        # the claim loop take the job again (a second lease token).
        args = ["--gentle", "--gentle-min-share", "1", "--gentle-max-pause", "60s", "--chunk-rows", "20000",
                "--lease", "1s"]
        load = pgbench(url)
        try:
            # A cancel during a pause ends the job at once, not at the pause's next look at the load (30 s).
            with server(BINARY, url, *args, "--gentle-interval", "30s") as s:
                job = s.create()
                # Each pause is about as long as all before it (the share halves): once 3 s were spent paused,
                # the next pause lasts 3 s or more. Cancel right as one begins (waiting turns from null to set).
                last = {"waiting": None}

                def long_pause_begins():
                    st = s.status(job)
                    began = st["waiting"] and not last["waiting"] and st["throttledSeconds"]["gentle"] >= 3
                    last.update(st)
                    return began and st

                st = wait_until("a long pause", long_pause_begins, 120, poll=0.01)
                check(st["waiting"].startswith("throttled: database busy ("), f"waiting: {st['waiting']}")
                print(f"    paused: {st['waiting']}, {st['throttledSeconds']['gentle']:.1f} s so far", flush=True)
                print(f"    cancelled during a pause, stopped in {stops_at_once(s, job):.2f} s", flush=True)

            with server(BINARY, url, *args) as s:
                job = s.create()
                t0 = time.monotonic()
                st = wait_until("the second job pauses", lambda: (x := s.status(job))["waiting"] and x, 120)
                check(st["status"] == "running" and st["waiting"].startswith("throttled: database busy ("),
                      f"while pgbench runs: {st}")
                throttled = wait_until("throttled time counted",
                                       lambda: s.status(job)["throttledSeconds"]["gentle"] > 1, 60)
                rows_paused = s.status(job)["rowsExported"]
                check(rows_paused < ROWS, "the job finished under load")
                load.stop()
                # The load is gone: the pause ends at its next sample, and the job runs to its end.
                st = wait_until("the job completes after pgbench stopped",
                                lambda: (x := s.status(job))["status"] not in ("queued", "running") and x, 120)
                print(f"    {rows_paused:,} rows by the time pgbench stopped; completed "
                      f"{time.monotonic() - t0:.1f} s after it was created", flush=True)
                check(st["status"] == "completed", f"ended {st['status']}: {st.get('error')}")
                check(st["waiting"] is None, f"a completed job waits: {st}")
                check(s.download(job) == copy_csv(url, FULL), "the file differs from COPY")
                token = psql(url, f"SELECT lease_token FROM export_jobs WHERE id = '{job}'").decode().strip()
                check(token == "1", f"the job was claimed again during a pause (lease token {token}):\n{s.log_tail()}")
                check(throttled and s.metric("pgexport_throttled_seconds_total", '{cause="gentle"}') > 1,
                      "gentle time not in /metrics")
                log = s.log_text()
                check('"event":"gentle_paused"' in log and '"event":"gentle_resumed"' in log,
                      "the log does not tell when the job paused and resumed")
        finally:
            load.stop()


if __name__ == "__main__":
    main()
