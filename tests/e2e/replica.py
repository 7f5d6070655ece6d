#!/usr/bin/env python3
"""--replica against a real streaming standby: a throwaway primary (tools/pg, its own directory and port) and
a hot standby made from it with pg_basebackup -R, both removed afterwards, also on failure.

- The export reads its rows from the standby (its table statistics count them; the primary's do not) and
  is byte-identical to psql's COPY on the primary.
- Rows inserted on the primary just before the job is created are in the file although the standby's
  replay is paused then: the job waits ("waiting": "replica behind by ..."), and completes once replay
  resumes. A cancel stops such a waiting job at once.
- The standby stopped in the middle of an export: the job waits ("replica unreachable: ..."), running, not
  failed; started again, the job completes byte-identical.
- serve refuses a --replica that is not in recovery.

    replica.py <pgexport binary>        (tools/test runs it)

One line per case, then `N passed, M failed`."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (binary, call, check, copy_csv, free_port, held_gate, install_gate, main, private_cluster, psql, seed,
                     server, streaming_standby, wait_until)

BINARY = binary()
ALL_COLUMNS = "id, category, created_at, name, email, amount, status, description"
FULL = f"SELECT {ALL_COLUMNS} FROM records ORDER BY id"
ROWS = 30_000
CHUNK = "5000"


def tuples_read(url, table="records"):
    """Rows the server has read from `table` since its statistics began (sequential and index scans)."""
    out = psql(url, "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables"
                    f" WHERE relname = '{table}'")
    return int(out.decode().strip() or 0)


class replica(unittest.TestCase):
    """A primary of its own, seeded, and a streaming standby of it, shared by the cases."""

    @classmethod
    def setUpClass(cls):
        cls.primary = cls.enterClassContext(private_cluster("pgexport_replica"))
        seed(BINARY, cls.primary.url, ROWS)
        cls.standby = cls.enterClassContext(streaming_standby(cls.primary.url))

    def test_reads_from_the_standby(self):
        primary, standby = self.primary, self.standby
        standby.wait_for_replay(primary.url)
        on_primary, on_standby = tuples_read(primary.url), tuples_read(standby.url)
        with server(BINARY, primary.url, "--replica", standby.url, "--chunk-rows", CHUNK) as s:
            job = s.create()
            st = s.wait_completed(job, 120)
            got = s.download(job)
        # Statistics are flushed when a backend ends: the server is stopped, so every session of it has.
        read_there = wait_until("the standby's statistics count the export's rows",
                                lambda: (lambda n: n if n >= ROWS else None)(tuples_read(standby.url) - on_standby),
                                30, poll=0.2)
        # The primary's: read once the server's sessions are gone. What it may read: max(id) (one index tuple).
        read_here = tuples_read(primary.url) - on_primary
        print(f"    rows read: standby {read_there:,}, primary {read_here:,}")
        check(read_here < 100, f"the primary read {read_here} rows of records during the export: the COPYs ran there")
        expected = copy_csv(primary.url, FULL)
        check(got == expected, f"the file differs from the primary's COPY ({len(got)} against {len(expected)} bytes)")

    def test_waits_for_a_lagging_standby(self):
        primary, standby = self.primary, self.standby
        standby.wait_for_replay(primary.url)
        with standby.replay_paused():
            before = int(psql(primary.url, "SELECT max(id) FROM records").decode())
            seed(BINARY, primary.url, 700)  # on the primary, just before the job: not on the standby yet
            with server(BINARY, primary.url, "--replica", standby.url, "--chunk-rows", CHUNK) as s:
                job = s.create()
                st = wait_until("the job waits for the standby",
                                lambda: (lambda st: st if (st["waiting"] or "").startswith("replica behind by") and
                                         st["replicaWaitSeconds"] > 0 else None)(s.status(job)), 30, poll=0.05)
                check(st["status"] == "running" and "paused" in st["waiting"], f"status while paused: {st}")
                check(st["rowsExported"] == 0, f"rows read from a standby that lacks some: {st}")
                # A cancel of a job waiting for its standby: stopped here within 2 s.
                other = s.create()
                wait_until("the second job waits too", lambda: s.status(other)["waiting"], 30, poll=0.05)
                status, body = call(s.base, f"/api/export/{other}", "DELETE")
                check(status == 200 and body["status"] == "cancelled", f"cancel: {status} {body}")
                wait_until("the cancelled job still runs here",
                           lambda: s.metric("pgexport_jobs_running_here") <= 1, 2, poll=0.05)
                check(s.status(job)["status"] == "running", "the first job no longer waits")

                waited = s.status(job)["replicaWaitSeconds"]
                standby.resume_replay()
                resumed = time.monotonic()
                st = s.wait_completed(job, 120)
                print(f"    waited {waited:.1f} s for the paused standby; completed {time.monotonic() - resumed:.1f} s"
                      " after replay resumed")
                got = s.download(job)
                check(s.metric("pgexport_replica_wait_seconds_total") > 0, "no replica wait in /metrics")
            expected = copy_csv(primary.url, FULL)
            after = int(psql(primary.url, "SELECT max(id) FROM records").decode())
            check(after == before + 700, f"max(id) {before} -> {after}")
            check(f"\n{after},".encode() in got, f"the row {after} inserted before the job is not in the file")
            check(got == expected, f"the file differs from the primary's COPY ({len(got)} against {len(expected)} bytes)")

    def test_survives_a_standby_restart(self):
        primary, standby = self.primary, self.standby
        # Rows above the first two chunks wait at a gate held on the standby: the job is mid-export, for sure,
        # when the standby stops.
        install_gate(primary.url, open_below=10_000)
        standby.wait_for_replay(primary.url)
        with server(BINARY, primary.url, "--replica", standby.url, "--chunk-rows", CHUNK, "--table",
                    "records_gated") as s:
            gate = held_gate(standby.url)
            try:
                job = s.create()
                gate.wait_for_waiters(1)
                wait_until("two chunks checkpointed", lambda: s.status(job)["lastProcessedId"] == 10_000, 30,
                           poll=0.05)
                standby.stop()  # the gate's session ends with it
            finally:
                try:
                    gate.release()
                except OSError:
                    pass
            st = wait_until("the job waits for the stopped standby",
                            lambda: (lambda st: st if (st["waiting"] or "").startswith("replica unreachable:") and
                                     st["attempts"] >= 2 else None)(s.status(job)), 60, poll=0.05)
            check(st["status"] == "running" and st["error"] is None, f"status while the standby is down: {st}")
            standby.start()
            started = time.monotonic()
            st = s.wait_completed(job, 120)
            print(f"    {st['attempts']} failed attempts while the standby was down; completed"
                  f" {time.monotonic() - started:.1f} s after it was started again")
            check(st["waiting"] is None, f"still waiting: {st}")
            got = s.download(job)
        expected = copy_csv(primary.url, FULL)
        check(got == expected, f"the file differs from the primary's COPY ({len(got)} against {len(expected)} bytes)")

    def test_refuses_a_primary_as_replica(self):
        primary, standby = self.primary, self.standby
        p = subprocess.run([BINARY, "serve", "--listen", f"127.0.0.1:{free_port()}", "--database", primary.url, "--replica",
                            primary.url, "--data-dir", os.path.join(standby.dir, "refused")],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode != 0, f"serve started with a primary as --replica: {p.returncode}")
        check("not in recovery" in p.stdout + p.stderr, f"no clear message: {p.stdout[-2000:]} {p.stderr[-2000:]}")


if __name__ == "__main__":
    main()
