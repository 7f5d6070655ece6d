#!/usr/bin/env python3
"""A database outage longer than any retry budget: jobs queued and running while PostgreSQL is stopped
wait for it and complete afterwards, byte-identical to PostgreSQL's COPY; none fails, none is dropped.

    outage.py <pgexport binary>     (tools/test runs it: the database is stopped for 3 minutes)

The database is a private cluster of this script (tools/pg), so stopping it disturbs no other test.
One line per case, then `N passed, M failed`."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import binary, call, check, copy_csv, held_gate, install_gate, main, private_cluster, psql, seed, server

BINARY = binary()
# The engine used to give up on a job after 8 attempts, about a minute of backoff: stay down three times
# as long, which also spans several of the backoff's 30 s ceilings.
OUTAGE_SECONDS = 180
ALL_COLUMNS = "id, category, created_at, name, email, amount, status, description"


class outage(unittest.TestCase):
    """A private cluster (stopping it disturbs no other test), seeded."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = cls.enterClassContext(private_cluster("outage"))
        seed(BINARY, cls.cluster.url, 20000)

    def test_jobs_survive_a_long_outage(self):
        cluster = self.cluster
        url = cluster.url
        install_gate(url, open_below=3000)  # the running job checkpoints 3 chunks, then waits at the gate
        with server(BINARY, url, "--table", "records_gated", "--chunk-rows", "1000", "--max-concurrent", "1") as s:
            selections = {}
            with held_gate(url) as gate:
                status, body = call(s.base, "/api/export", "POST", "{}")
                check(status == 202, f"create: {status} {body}")
                running = body["jobId"]
                selections[running] = f"SELECT {ALL_COLUMNS} FROM records ORDER BY id"
                gate.wait_for_waiters(1)
                for category in ("books", "garden"):
                    status, body = call(s.base, "/api/export", "POST",
                                        json.dumps({"filters": {"category": category}, "columns": ["id", "name"]}))
                    check(status == 202, f"create: {status} {body}")
                    selections[body["jobId"]] = f"SELECT id, name FROM records WHERE category = '{category}' ORDER BY id"
                st = call(s.base, f"/api/export/{running}/status")[1]
                check(st["status"] == "running" and st["rowsExported"] == 3000, f"before the outage: {st}")
                for job in list(selections)[1:]:
                    check(call(s.base, f"/api/export/{job}/status")[1]["status"] == "queued", "not queued")
                cluster.stop()  # the gate's session goes with it
            # While the database is away: no job fails. Their status comes from memory (this process runs them)
            # or the API says 503 with the contract's error body; never a failed job.
            seen_503 = 0
            deadline = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < deadline:
                for job in selections:
                    status, body = call(s.base, f"/api/export/{job}/status")
                    if status == 503:
                        seen_503 += 1
                        check(body["error"]["code"] == "unavailable" and body["error"]["message"], f"503 body {body}")
                    else:
                        check(status == 200 and body["status"] in ("queued", "running"),
                              f"during the outage job {job} is {status} {body}")
                check(s.process.poll() is None, "the server exited during the outage")
                time.sleep(1)
            status, body = call(s.base, "/api/export", "POST", "{}")
            check(status == 503 and body["error"]["code"] == "unavailable", f"create during the outage: {status} {body}")
            cluster.start()
            for job, select in selections.items():
                st = s.wait_ended(job, 120)
                check(st["status"] == "completed", f"job {job} ended {st['status']}: {st.get('error')}")
                got = s.download(job, timeout=60)
                check(got == copy_csv(url, select), f"job {job}: the file differs from COPY")
            st = call(s.base, f"/api/export/{running}/status")[1]
            check(st["attempts"] >= 1, f"the running job's failed attempts were not counted: {st}")
            stored = psql(url, "SELECT status, count(*) FROM export_jobs GROUP BY 1").decode().split()
            check(stored == ["completed|3"], f"export_jobs holds {stored}")
            print(f"    {OUTAGE_SECONDS} s outage; {seen_503} status answers were 503; "
                  f"the running job took {st['attempts']} attempts", flush=True)


if __name__ == "__main__":
    main()
