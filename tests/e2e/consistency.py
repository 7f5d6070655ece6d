#!/usr/bin/env python3
"""Snapshot-consistent exports ("consistency": "snapshot", docs/consistency.md) through the real server,
under concurrent writes.

    consistency.py <pgexport binary>     (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

A table of accounts whose balances sum to a constant; during each export a writer moves random amounts
between random accounts in many small transactions, and a second writer opens accounts (moving money into a
new row) and closes them (moving a row's money out and deleting it): the sum never changes. Each export is
held at a gate (a view over the table that waits inside COPY) until both writers have committed a few
hundred transactions, so the writes happen during it for sure.
- a snapshot export's file sums to the constant exactly, for parallelism 1, 3 and 16, on the primary and on
  a streaming standby (--replica); byte-identical to a COPY run in a transaction that imported the snapshot
  the job reports; the same export with "consistency": "chunked" drifts (the test measures something);
- kill -9 mid-export (a real table, slowed by --max-rate) with the writers away from the written prefix: the
  next server goes on under a new snapshot (no restart; one stream and 3 slices); with the writer touching the
  prefix: it starts over (snapshotRestarts 1); the database ending the session that holds the snapshot
  while the server runs (pg_terminate_backend): job_snapshot_lost says why, and the job goes on under a new
  one. The invariant holds and the file is byte-identical to a COPY
  under the snapshot the job reports after the kill, imported while the job held it;
- the held session outlives idle_in_transaction_session_timeout (the keepalive); --max-snapshot-age fails
  the job with errorCode snapshot_too_old; /metrics shows the snapshot held and its age; 400 for a bad value.
Every wait polls for a state with a deadline."""
import csv
import io
import os
import random
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (PSQL_ENV, binary, check, held_gate, install_gate, main, private_cluster, psql, shared_database,
                     server, sql_writer, streaming_standby, wait_until)

BINARY = binary()
WAIT = 180  # seconds any state may take to come about on a loaded machine
ACCOUNTS = 20_000
BALANCE = 1_000
TOTAL = ACCOUNTS * BALANCE
EXTRA = 10_000_000  # ids of the accounts the second writer opens
GATE_AT = ACCOUNTS // 2  # the gated view lets rows up to here through at once
WRITES_DURING = 300  # transactions each writer commits while an export is held at the gate
COLUMNS = "id, balance, note"
REFERENCE = f"SELECT {COLUMNS} FROM accounts ORDER BY id"
SERVE = ("--table", "accounts_gated:id", "--table", "accounts:id", "--min-slice-rows", "1", "--max-parallelism", "16",
         "--chunk-rows", "500")

SETUP = f"""
DROP TABLE IF EXISTS accounts CASCADE;
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, note text NOT NULL);
INSERT INTO accounts SELECT g, {BALANCE}, 'account ' || g || repeat(' .', 20) FROM generate_series(1, {ACCOUNTS}) g;
ANALYZE accounts;
"""


def prepare(url):
    psql(url, SETUP)
    install_gate(url, view="accounts_gated", table="accounts", open_below=GATE_AT)


def balances_sum(data):
    rows = list(csv.reader(io.StringIO(data.decode())))
    check(rows and rows[0] == ["id", "balance", "note"], f"unexpected header: {rows[:1]}")
    return sum(int(r[1]) for r in rows[1:]), len(rows) - 1


def transfers(ids, seed):
    """Statements that each move a random amount between two random accounts of `ids`."""
    rnd = random.Random(seed)

    def next_statement():
        a, b = rnd.sample(ids, 2)
        x = rnd.randint(1, 1000)
        return f"UPDATE accounts SET balance = balance + CASE WHEN id = {a} THEN -{x} ELSE {x} END WHERE id IN ({a}, {b});"
    return next_statement


def churn(ids, seed):
    """Transactions that open an account (money out of one of `ids` into a new row) or close one they opened
    (its money into one of `ids`, the row deleted)."""
    rnd = random.Random(seed)
    opened = []
    ids_next = [EXTRA + seed * 1_000_000]

    def next_statement():
        a = rnd.choice(ids)
        if opened and (len(opened) > 50 or rnd.random() < 0.5):
            c = opened.pop(rnd.randrange(len(opened)))
            return (f"WITH d AS (DELETE FROM accounts WHERE id = {c} RETURNING balance)"
                    f" UPDATE accounts SET balance = balance + (SELECT balance FROM d) WHERE id = {a};")
        ids_next[0] += 1
        opened.append(ids_next[0])
        x = rnd.randint(1, 1000)
        return (f"BEGIN; UPDATE accounts SET balance = balance - {x} WHERE id = {a};"
                f" INSERT INTO accounts VALUES ({ids_next[0]}, {x}, 'opened'); COMMIT;")
    return next_statement


class writers:
    """Both writers for a block; stopped at its end, also on failure."""

    def __init__(self, url, transfer_ids, churn_ids, seed=1):
        self.transfer = sql_writer(url, transfers(transfer_ids, seed), "transfer")
        self.churn = sql_writer(url, churn(churn_ids, seed + 1), "churn")

    def wait_for(self, more):
        self.transfer.wait_for(more, WAIT)
        self.churn.wait_for(more, WAIT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.transfer.stop()
        self.churn.stop()


class snapshot_copy:
    """A psql session that imports a snapshot (while its exporter still holds it) and keeps it, so that a COPY
    can run under it later, after the job let it go."""

    def __init__(self, url, snapshot_id):
        self.session = subprocess.Popen(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", url], env=PSQL_ENV,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self._send("SET idle_in_transaction_session_timeout = 0;"
                   " BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
                   f" SET TRANSACTION SNAPSHOT '{snapshot_id}';")

    def _send(self, sql):
        self.session.stdin.write(f"{sql}\n\\echo done\n")
        self.session.stdin.flush()
        line = self.session.stdout.readline()
        if line.strip() != "done":
            raise AssertionError(f"psql: {self.session.stderr.read()[-2000:]}")

    def copy(self, path, select=REFERENCE):
        self._send(f"\\o {path}\nCOPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER true);\n\\o")
        with open(path, "rb") as f:
            return f.read()

    def close(self):
        if self.session.poll() is None:
            self.session.stdin.close()
            self.session.wait(30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Ends the session that holds a job's snapshot: a pgexport session idle in a transaction that took a
# snapshot (the chunks' transactions are short; the keeper's statement is SELECT 1). One row: whether it
# ended one.
HELD_SESSION_TERMINATE = """
SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
WHERE application_name = 'pgexport' AND datname = current_database() AND state = 'idle in transaction'
  AND backend_xmin IS NOT NULL AND (query = 'SELECT 1' OR query LIKE 'SELECT pg_export_snapshot()%')
"""


def wait_snapshot(s, job, other_than=None):
    """The job's snapshot id once it reports one (other than `other_than`)."""
    st = s.wait_status(job, lambda st: st["snapshotId"] and st["snapshotId"] != other_than or st["status"] != "running"
                       and st["status"] != "queued", "reports its snapshot", WAIT)
    check(st["snapshotId"] and st["snapshotId"] != other_than, f"no new snapshot reported: {st}")
    return st["snapshotId"]


Base = shared_database(BINARY, "pgexport_consistency", 0, prepare)


def gated_export(test, s, url, gate_url, ws, body, work):
    """Runs `body` on the gated view with the gate held until both writers committed WRITES_DURING more
    transactions; returns (status, file, the reference COPY under the job's snapshot or None)."""
    reference = None
    with held_gate(gate_url) as gate:
        job = s.create(dict(body, table="accounts_gated"))
        gate.wait_for_waiters(1, WAIT)
        copier = None
        if body.get("consistency") == "snapshot":
            copier = snapshot_copy(gate_url, wait_snapshot(s, job))
            st = s.status(job)
            test.assertEqual(st["snapshotRestarts"], 0, st)
            test.assertIsNotNone(st["snapshotAt"], st)
            test.assertIsNone(st["snapshotReason"], st)
        ws.wait_for(WRITES_DURING)
    st = s.wait_completed(job, WAIT)
    data = s.download(job)
    if copier:
        with copier:
            reference = copier.copy(os.path.join(work, f"reference-{job}.csv"))
    return st, data, reference


class on_the_primary(Base):
    def test_a_snapshot_export_is_one_moment(self):
        with server(BINARY, self.url, *SERVE) as s, \
                writers(self.url, list(range(1, ACCOUNTS + 1)), list(range(1, ACCOUNTS + 1))) as ws:
            for parallelism in (1, 3, 16):
                with self.subTest(parallelism=parallelism):
                    st, data, reference = gated_export(self, s, self.url, self.url, ws,
                                                       {"consistency": "snapshot", "parallelism": parallelism},
                                                       self.work)
                    total, rows = balances_sum(data)
                    print(f"    parallelism {parallelism}: {rows:,} rows, sum {total:,}, "
                          f"{ws.transfer.done + ws.churn.done:,} writes so far")
                    self.assertEqual(st["consistency"], "snapshot")
                    self.assertEqual(st["request"].get("parallelism", 1), parallelism)
                    self.assertEqual(st["snapshotRestarts"], 0, st)
                    self.assertEqual(total, TOTAL, "the snapshot export's balances do not sum to the constant")
                    self.assertEqual(data, reference, "the file differs from a COPY under the job's snapshot")

    def test_a_chunked_export_drifts(self):
        # The same export, chunk by chunk: the rows read before the gate and after it are of other moments.
        with server(BINARY, self.url, *SERVE) as s, \
                writers(self.url, list(range(1, ACCOUNTS + 1)), list(range(1, ACCOUNTS + 1)), seed=7) as ws:
            drifts = []
            for parallelism in (1, 3):
                st, data, _ = gated_export(self, s, self.url, self.url, ws, {"parallelism": parallelism}, self.work)
                total, rows = balances_sum(data)
                drifts.append(total - TOTAL)
                self.assertEqual(st["consistency"], "chunked")
                self.assertIsNone(st["snapshotAt"])
                self.assertIsNone(st["snapshotRestarts"])
            print(f"    chunked drift: {drifts}")
            self.assertTrue(any(drifts), "the chunked exports sum to the constant: the test measures nothing")

    def test_the_held_snapshot_outlives_idle_timeouts(self):
        # Every new session of the database ends after 1 s idle in a transaction; the job's held session
        # would too, but for its keepalive: held at the gate for longer, the job never loses its snapshot.
        psql(self.url, "DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout"
                       " = ''1s''', current_database()); END$$")
        try:
            with server(BINARY, self.url, *SERVE) as s, held_gate(self.url) as gate:
                job = s.create({"table": "accounts_gated", "consistency": "snapshot"})
                gate.wait_for_waiters(1, WAIT)
                first = wait_snapshot(s, job)
                held = s.metric("pgexport_snapshots_held")
                age_before = s.metric("pgexport_snapshot_oldest_age_seconds")
                wait_until("the snapshot is held 3 s", lambda: s.metric("pgexport_snapshot_oldest_age_seconds") > 3,
                           WAIT, poll=0.2)
                gate.release()
                st = s.wait_completed(job, WAIT)
                self.assertEqual(held, 1)
                self.assertGreaterEqual(age_before, 0)
                self.assertEqual(s.metric("pgexport_snapshots_held"), 0)
                self.assertEqual(s.metric("pgexport_snapshot_oldest_age_seconds"), 0)
            self.assertEqual((st["snapshotRestarts"], st["snapshotId"], st["attempts"]), (0, first, 0), st)
        finally:
            psql(self.url, "DO $$BEGIN EXECUTE format('ALTER DATABASE %I RESET idle_in_transaction_session_timeout',"
                           " current_database()); END$$")

    def test_max_snapshot_age(self):
        with server(BINARY, self.url, *SERVE, "--max-snapshot-age", "2s") as s, held_gate(self.url) as gate:
            job = s.create({"table": "accounts_gated", "consistency": "snapshot", "parallelism": 3})
            gate.wait_for_waiters(1, WAIT)
            st = s.wait_ended(job, WAIT)
            gate.release()
            self.assertEqual((st["status"], st["errorCode"]), ("failed", "snapshot_too_old"), st)
            self.assertIn("--max-snapshot-age", st["error"])
            self.assertEqual(s.metric("pgexport_snapshots_held"), 0)

    def test_bad_values(self):
        with server(BINARY, self.url, *SERVE) as s:
            for value in ("Snapshot", "", 1, True, ["snapshot"]):
                r = s.request("POST", "/api/export", {"consistency": value})
                self.assertEqual(r.status, 400, (value, r))
                self.assertIn("consistency", r.json()["error"]["message"])
            r = s.request("GET", "/api/schema")
            self.assertEqual(r.json()["options"]["consistency"], ["chunked", "snapshot"], r.json())


class kill_mid_export(Base):
    """kill -9 of the server mid-export of the table itself (no gate: --max-rate keeps it running), and a
    new server on the same data directory."""

    RATE = ("--max-rate", "60KiB")  # about 1,000 rows a second: 20 s for the table

    def setUp(self):
        prepare(self.url)  # every case from the same table (and the gated view over it, which SERVE names)

    def run_killed(self, parallelism, ws, touch_prefix, terminate=False):
        """kill -9 of the server (or, with `terminate`, the database ending the session that holds the
        snapshot while the server runs on), more writes meanwhile, then the job to its end."""
        work = os.path.join(self.work, f"kill-{parallelism}-{touch_prefix}-{terminate}")
        os.makedirs(work, exist_ok=True)
        s = server(BINARY, self.url, *SERVE, *self.RATE, work=work)
        job = s.create({"table": "accounts", "consistency": "snapshot", "parallelism": parallelism})
        first = wait_snapshot(s, job)
        # Killed once a few chunks are vouched for, well below the accounts the writers touch when they
        # keep away from the prefix.
        s.wait_status(job, lambda st: st["rowsExported"] >= 3000, "3000 rows checkpointed", WAIT)
        ws.wait_for(WRITES_DURING)
        if terminate:
            ended = psql(self.url, HELD_SESSION_TERMINATE).decode().split()
            self.assertEqual(ended, ["t"], "no session held the export's snapshot")
        else:
            s.kill()
        st_killed = psql(self.url, f"SELECT rows_exported, last_processed_id FROM export_jobs WHERE id = '{job}'")
        ws.wait_for(WRITES_DURING)  # and more writes while no one holds the snapshot
        if not terminate:
            s.start()
        second = wait_snapshot(s, job, other_than=first)
        with snapshot_copy(self.url, second) as copier:
            st = s.wait_completed(job, WAIT)
            data = s.download(job)
            reference = copier.copy(os.path.join(self.work, f"reference-{job}.csv"))
        events = s.events_since_start()
        s.close()
        total, rows = balances_sum(data)
        print(f"    parallelism {parallelism}, writer {'on' if touch_prefix else 'off'} the prefix: killed at "
              f"{st_killed.decode().strip()}, {rows:,} rows, sum {total:,}, restarts {st['snapshotRestarts']}")
        self.assertEqual(total, TOTAL, "the resumed export's balances do not sum to the constant")
        self.assertEqual(data, reference, "the file differs from a COPY under the snapshot the job reports")
        return st, events

    def test_goes_on_when_the_prefix_is_unchanged(self):
        # The writers touch only accounts above 19,500 (and the ones they open), which no slice reaches before
        # the kill: the rows written are the same tuples under the new snapshot, whatever else changed.
        away = list(range(19_501, ACCOUNTS + 1))
        for parallelism in (1, 3):
            with self.subTest(parallelism=parallelism):
                if parallelism > 1:
                    prepare(self.url)
                with writers(self.url, away, away, seed=parallelism) as ws:
                    st, events = self.run_killed(parallelism, ws, touch_prefix=False)
                self.assertEqual(st["snapshotRestarts"], 0, st)
                self.assertTrue(st["snapshotReason"].startswith("went on under a new snapshot"), st)
                resumed = [e for e in events if e.get("event") == "job_snapshot_resumed"]
                self.assertEqual(len(resumed), 1, events)
                self.assertFalse([e for e in events if e.get("event") == "job_snapshot_restarted"], events)

    def test_a_snapshot_session_ended_by_the_database(self):
        # The exporting transaction gone while the server runs (pg_terminate_backend, as an outage or an
        # administrator would end it): the job says why (job_snapshot_lost), takes a new snapshot and goes on
        # under it, the prefix being untouched; no chunk ever read under the lost one.
        away = list(range(19_501, ACCOUNTS + 1))
        with writers(self.url, away, away, seed=5) as ws:
            st, events = self.run_killed(3, ws, touch_prefix=False, terminate=True)
        self.assertEqual((st["snapshotRestarts"], st["status"]), (0, "completed"), st)
        self.assertTrue(st["snapshotReason"].startswith("went on under a new snapshot"), st)
        lost = [e for e in events if e.get("event") == "job_snapshot_lost"]
        self.assertEqual(len(lost), 1, events)
        self.assertTrue(lost[0]["reason"], lost)
        self.assertEqual(len([e for e in events if e.get("event") == "job_snapshot_resumed"]), 1, events)

    def test_starts_over_when_the_prefix_changed(self):
        everywhere = list(range(1, ACCOUNTS + 1))
        with writers(self.url, everywhere, everywhere, seed=11) as ws:
            st, events = self.run_killed(1, ws, touch_prefix=True)
        self.assertEqual(st["snapshotRestarts"], 1, st)
        self.assertTrue(st["snapshotReason"].startswith("started over under a new snapshot"), st)
        self.assertIn("since the recorded snapshot", st["snapshotReason"])
        restarted = [e for e in events if e.get("event") == "job_snapshot_restarted"]
        self.assertEqual(len(restarted), 1, events)
        self.assertIn("since the recorded snapshot", restarted[0]["reason"])


class on_a_standby(unittest.TestCase):
    """--replica: the snapshot is taken and held on a streaming standby of a primary of its own; the writers
    write on the primary."""

    @classmethod
    def setUpClass(cls):
        cls.primary = cls.enterClassContext(private_cluster("pgexport_consistency"))
        prepare(cls.primary.url)
        cls.standby = cls.enterClassContext(streaming_standby(cls.primary.url))
        # The standby tells the primary which rows its snapshots still need, rather than cancelling them
        # when replay would remove those rows (docs/consistency.md).
        with open(os.path.join(cls.standby.data, "postgresql.conf"), "a") as conf:
            conf.write("\nhot_standby_feedback = on\n")
        psql(cls.standby.url, "SELECT pg_reload_conf()")
        cls.work = cls.enterClassContext(tempfile.TemporaryDirectory(prefix="pgexport-consistency-"))

    def test_a_snapshot_export_on_the_standby_is_one_moment(self):
        primary, standby = self.primary.url, self.standby.url
        self.standby.wait_for_replay(primary)
        with server(BINARY, primary, *SERVE, "--replica", standby) as s, \
                writers(primary, list(range(1, ACCOUNTS + 1)), list(range(1, ACCOUNTS + 1)), seed=21) as ws:
            for parallelism in (1, 3, 16):
                with self.subTest(parallelism=parallelism):
                    st, data, reference = gated_export(self, s, primary, standby, ws,
                                                       {"consistency": "snapshot", "parallelism": parallelism},
                                                       self.work)
                    total, rows = balances_sum(data)
                    print(f"    standby, parallelism {parallelism}: {rows:,} rows, sum {total:,}")
                    self.assertEqual(total, TOTAL, "the snapshot export's balances do not sum to the constant")
                    self.assertEqual(data, reference, "the file differs from a COPY under the job's snapshot")
            events = s.log_events("job_snapshot_taken")
            self.assertTrue(events and all(e["standby"] for e in events), events)


if __name__ == "__main__":
    main()
