#!/usr/bin/env python3
"""Fault injection for pgexport: the real `pgexport serve` process, faults on purpose.

    python3 tests/e2e/faults.py build/pgexport [--long] [--seed N]

The script runs its OWN PostgreSQL cluster through tools/pg (a temporary directory under /tmp and a free
port), because it stops and restarts the database; the cluster is destroyed at the end, also on failure.
It seeds the demo table `records` and checks, every file byte for byte against PostgreSQL's own COPY:

  1. kills       SIGKILL of the server, restarting on the same data directory each time: at random
                 instants (soon after start, mid-chunk, just after a write), and aimed at moments too short
                 to hit at random (a trigger holds the chosen UPDATE of export_jobs in the database: the last
                 checkpoint pending; after it and before the rename, with SIGSTOP; after the rename and
                 before the completion's record). After each kill, once the dead server's database sessions
                 are gone, the row and the files are classified by where the kill landed and the class's
                 invariants are checked (the checkpoint's rows and bytes agree with the reference and are on
                 disk, every byte of the .part is the reference's, <id>.csv is complete and only exists once
                 the last checkpoint is recorded); aimed kills must land where they were aimed, and the run
                 fails unless every moment it claims to cover was landed on. In the end the job completes
                 byte-identically (a file renamed before the kill is recorded, not written again).
  2. db_restart  the database stopped and started again during an export; while it is down, the job this
                 process runs and a job whose end it has read answer 200 from memory, /healthz and
                 everything that needs the database answer 503 (the contract's error, code unavailable);
                 the job retries and completes.
  3. terminate   the job's COPY connection killed with pg_terminate_backend several times.
  4. unreachable the database down when the server starts: the server stays up through its retries,
                 /healthz and every API call answer 503 (the contract's error; the process knows no job yet),
                 and once the database is back the unfinished job is resumed and completes.
  5. disk        (a) a file-size limit (prlimit --fsize) that the export hits: the job fails cleanly with the
                 reason, no <id>.csv, 409 on download, the server keeps serving and a small export works;
                 (b) a data directory that cannot be created or written (a regular file in the way; a
                 read-only directory, with the server run as `nobody` when the tests run as root): serve
                 exits non-zero at once, naming it and the reason.

Nothing here waits a fixed time for a result: every wait is for an observable state, with a deadline; the
random delays only choose when a fault comes. A case that cannot set up its situation fails and says why.
Each case is a unittest case (-k NAME picks some); the harness prints one line per case.

--long multiplies sizes and counts. --seed N makes the random instants reproducible (the seed is printed at
the start and with every failure). Only the standard library is used. The last line is `N passed, M failed`;
the exit status is 1 when any test failed.
"""

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness
from harness import check, compare_file, main, private_cluster, request

# ---------------------------------------------------------------------------------------------------------
# Arguments

# Extra arguments also come from the environment at run time (tools/test --long sets
# PGEXPORT_TEST_ARGS=--long), so the same ctest registration serves both versions.
_argv = []
for _a in sys.argv[1:] + [os.environ.get("PGEXPORT_TEST_ARGS", "")]:
    _argv += shlex.split(_a) if " " in _a else ([_a] if _a else [])
_parser = argparse.ArgumentParser(description="pgexport fault-injection tests")
_parser.add_argument("binary", help="the pgexport executable")
_parser.add_argument("--long", action="store_true", help="the long versions (more rows, more faults)")
_parser.add_argument("--seed", type=int, default=None, help="seed of the random instants [from the time]")
ARGS, _rest = _parser.parse_known_args(_argv)
sys.argv[1:] = [ARGS.binary, *_rest]  # the rest is unittest's (-k NAME)

BINARY = harness.binary()
LONG = ARGS.long
SEED = ARGS.seed if ARGS.seed is not None else int(time.time() * 1000) % 1_000_000_007
RNG = random.Random(SEED)

ROWS = 1_000_000 if LONG else 200_000
KILLS = 12 if LONG else 6
DB_RESTARTS = 3 if LONG else 1
TERMINATIONS = 8 if LONG else 3
FSIZE_LIMIT = 3 * 1024 * 1024
# One week of created_at: a small export (about ROWS / 150 rows; with category=books about a tenth of that).
WEEK = ("2024-03-04T00:00:00Z", "2024-03-11T00:00:00Z")

HTTP_TIMEOUT = 20

WORK = tempfile.mkdtemp(prefix="pgexport-faults-")
os.chmod(WORK, 0o755)


def say(*parts):
    print(*parts, flush=True)


# ---------------------------------------------------------------------------------------------------------
# The private cluster

CLUSTER = None  # the suite's own cluster (setUpModule)


def psql(sql, timeout=180, check_rc=True):
    return harness.psql(CLUSTER.url, sql, timeout, check_rc)


def sql_value(sql):
    return psql(sql).decode().strip()


_references = {}


def reference(columns="*", where=None):
    """The file PostgreSQL itself writes for the request: COPY ... TO STDOUT (FORMAT csv, HEADER true)."""
    key = (columns, where)
    if key not in _references:
        path = os.path.join(WORK, f"reference-{len(_references)}.csv")
        select = f"SELECT {columns} FROM records" + (f" WHERE {where}" if where else "") + " ORDER BY id"
        _references[key] = harness.copy_to_file(CLUSTER.url, select, path)
    return _references[key]


def job_row(job_id):
    """The job's row in export_jobs, straight from the database."""
    out = psql("SELECT row_to_json(j) FROM (SELECT status, last_processed_id, rows_exported, bytes_written, "
               f"error, attempts FROM export_jobs WHERE id = '{job_id}') j").decode().strip()
    return json.loads(out) if out else None


_row_ends = {}


def row_ends(ref_path):
    """{byte offset just past a CSV record of the reference: data records up to there}; the header's end
    maps to 0. A newline inside a quoted field is not a record's end (the quotes before it are odd)."""
    if ref_path not in _row_ends:
        with open(ref_path, "rb") as f:
            data = f.read()
        ends = {}
        pos = quotes = 0
        records = -1
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            quotes += data.count(b'"', pos, nl)
            pos = nl + 1
            if quotes % 2 == 0:
                records += 1
                ends[pos] = records
        check(pos == len(data), f"the reference {ref_path} does not end with a newline")
        _row_ends[ref_path] = ends
    return _row_ends[ref_path]


def backends(app_like="pgexport%"):
    """The database sessions of pgexport processes: [(pid, application_name, state, query)]."""
    out = psql("SELECT pid, application_name, state, left(query, 60) FROM pg_stat_activity "
               f"WHERE application_name LIKE '{app_like}' AND pid <> pg_backend_pid()").decode()
    return [tuple(line.split("|", 3)) for line in out.splitlines() if line]


def wait_connections_gone(what, timeout=30):
    """Waits until no session of a pgexport process is left but those held at a gate (application_name
    pgexport-held). After a SIGKILL that is the settled state: every statement the dead process had sent
    has committed or rolled back, so the export_jobs row no longer moves."""
    deadline = time.monotonic() + timeout
    while True:
        left = backends("pgexport")
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: the killed server's database sessions are still there after {timeout} s: "
                              f"{left}")
        time.sleep(0.01)


class Gate:
    """Holds chosen UPDATEs of export_jobs inside the database, so that a kill can be aimed at a moment
    that lasts too little to be hit at random (between the last checkpoint and the rename, between the
    rename and the completion's record). A BEFORE UPDATE trigger waits (pg_sleep in a loop, a fresh
    snapshot every time) while a row of faults_gate matches the new row: job (NULL: any), status (NULL:
    any), bytes_written (NULL: any) and moved_from (not NULL: only an UPDATE that moves the checkpoint
    forward from at least that many bytes - a checkpoint, not mark_running or the completion's record).
    While it waits, its session is named pgexport-held. A gate
    is opened by deleting its row; a held statement is dropped with pg_terminate_backend.
    Installed for one test (a context manager) and removed afterwards."""

    def __enter__(self):
        psql("""
            CREATE TABLE faults_gate (id serial PRIMARY KEY, job uuid, status text, bytes_written bigint,
                                      moved_from bigint);
            CREATE FUNCTION faults_gate_wait() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                WHILE EXISTS (SELECT 1 FROM faults_gate g WHERE (g.job IS NULL OR g.job = NEW.id)
                              AND (g.status IS NULL OR g.status = NEW.status)
                              AND (g.bytes_written IS NULL OR g.bytes_written = NEW.bytes_written)
                              AND (g.moved_from IS NULL OR (NEW.bytes_written > OLD.bytes_written
                                                            AND OLD.bytes_written >= g.moved_from))) LOOP
                    PERFORM set_config('application_name', 'pgexport-held', true);
                    PERFORM pg_sleep(0.005);
                END LOOP;
                RETURN NEW;
            END $$;
            CREATE TRIGGER faults_gate BEFORE UPDATE ON export_jobs
                FOR EACH ROW EXECUTE FUNCTION faults_gate_wait();""")
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if not CLUSTER.running():
                CLUSTER.start()
            self.drop_held()
            psql("DELETE FROM faults_gate")
            psql("SET lock_timeout = '30s'; DROP TRIGGER faults_gate ON export_jobs; "
                 "DROP FUNCTION faults_gate_wait(); DROP TABLE faults_gate")
        except Exception as e:  # noqa: BLE001
            if exc_type is None:
                raise
            say(f"  warning: could not remove the gate after the failure: {e}")

    def close(self, job=None, status=None, bytes_written=None, moved_from=None):
        """Closes a gate; returns its id."""
        def lit(v):
            return "NULL" if v is None else f"'{v}'"
        return int(sql_value(f"INSERT INTO faults_gate (job, status, bytes_written, moved_from) VALUES ({lit(job)}, "
                             f"{lit(status)}, {lit(bytes_written)}, {lit(moved_from)}) RETURNING id"))

    def open(self, gate_id):
        psql(f"DELETE FROM faults_gate WHERE id = {int(gate_id)}")

    def held(self):
        """The statements waiting at a gate: [(pid, query)]."""
        return [(pid, q) for pid, _, _, q in backends("pgexport-held")]

    def drop_held(self, timeout=30):
        """Terminates every held statement (its transaction rolls back) and waits until they are gone."""
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgexport-held'")
        deadline = time.monotonic() + timeout
        while self.held():
            if time.monotonic() > deadline:
                raise AssertionError(f"held statements still there {timeout} s after pg_terminate_backend: {self.held()}")
            time.sleep(0.01)


# ---------------------------------------------------------------------------------------------------------
# HTTP

def check_error_body(r, status, what):
    check(r.status == status, f"{what}: expected {status}, got {r!r}")
    try:
        err = r.json()["error"]
    except Exception:  # noqa: BLE001
        raise AssertionError(f"{what}: the body is not the JSON error object: {r!r}")
    check(isinstance(err.get("code"), str) and err["code"] and isinstance(err.get("message"), str) and err["message"],
          f"{what}: the error object needs a code and a message: {r!r}")
    return err


# ---------------------------------------------------------------------------------------------------------
# Servers

SERVERS = []  # every server of the current test, stopped when the test ends


# A job that shows no progress at all for this long is stuck (the longest legitimate pause is a database
# outage of a few seconds plus the engine's backoff).
STALL_SECONDS = 60


class Stall:
    """Notices a job whose status does not move."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.last = None
        self.since = time.monotonic()

    def see(self, st, what):
        if st is None:
            return  # the server or the database is away: that is not the job's stall
        key = (st["status"], st["rowsExported"], st["bytesWritten"], st["lastProcessedId"])
        now = time.monotonic()
        if key != self.last:
            self.last, self.since = key, now
        elif now - self.since > self.seconds:
            raise AssertionError(f"{what}: no progress for {self.seconds} s, the job looks stuck: {st}")


class Server(harness.server):
    """`pgexport serve` on a data directory of its own (or `data_dir`), on the suite's cluster, not started
    yet; restarted on the same directory, a fresh port each time. fsize: prlimit --fsize; as_user (uid,
    gid): the process runs with these ids (setpriv), without privileges."""

    def __init__(self, name, data_dir=None, chunk_rows=2000, fsize=None, as_user=None):
        wrap = []
        if as_user:
            wrap += ["setpriv", f"--reuid={as_user[0]}", f"--regid={as_user[1]}", "--clear-groups", "--"]
        if fsize:
            wrap += ["prlimit", f"--fsize={fsize}", "--"]
        super().__init__(BINARY, CLUSTER.url, "--chunk-rows", str(chunk_rows), name=name, work=WORK,
                         data_dir=data_dir or os.path.join(WORK, f"data-{name}"), wrap=wrap, start=False)
        SERVERS.append(self)

    def start(self, timeout=60):
        return super().start(timeout=timeout)

    def wait_healthy(self, timeout=60):
        self.wait_ready(timeout)

    def events(self, name):
        return self.log_events(name)

    # --- the API
    def create(self, body):
        r = request(self.port, "POST", "/api/export", body)
        check(r.status == 202, f"POST /api/export {body}: expected 202, got {r!r}")
        return r.json()["jobId"]

    def status(self, job_id):
        """The job's status, or None while the server or the database cannot answer."""
        try:
            r = request(self.port, "GET", f"/api/export/{job_id}/status", timeout=10)
        except OSError:
            return None
        if r.status == 503:
            return None
        check(r.status == 200, f"status of {job_id}: {r!r}")
        return r.json()

    def wait_status(self, job_id, pred, timeout, what, interval=0.02, stall=STALL_SECONDS):
        """Polls the status until pred(status). Fails after `timeout` s, or sooner when the job makes no
        progress at all (same status, rows and bytes) for `stall` s: a stuck job, not a slow one."""
        deadline = time.monotonic() + timeout
        stalled = Stall(stall)
        while time.monotonic() < deadline:
            self.check_alive(f"while waiting for {what}")
            st = self.status(job_id)
            if st is not None and pred(st):
                return st
            stalled.see(st, f"job {job_id} while waiting for {what}")
            time.sleep(interval)
        raise AssertionError(f"job {job_id}: no {what} within {timeout} s (last status: {self.status(job_id)})")

    def wait_done(self, job_id, timeout):
        return self.wait_status(job_id, lambda s: s["status"] in ("completed", "failed", "cancelled"), timeout,
                                "end (completed, failed or cancelled)", interval=0.1)

    def jobs(self):
        r = request(self.port, "GET", "/api/export?limit=1000")
        check(r.status == 200, f"GET /api/export: {r!r}")
        return r.json()

    def verify_download(self, job_id, ref_path):
        """Downloads the job's file and compares it with the reference while it streams."""
        status, body = harness.compare_download(self.port, job_id, ref_path)
        check(status == 200, f"download of {job_id}: HTTP {status} {body!r}")
        compare_file(os.path.join(self.data_dir, f"{job_id}.csv"), ref_path, f"file {job_id}.csv on disk")


def no_unfinished(server):
    stuck = [(j["jobId"], j["status"]) for j in server.jobs() if j["status"] in ("queued", "running")]
    check(not stuck, f"jobs left queued/running: {stuck}")


def finish_checks(server, job_id, ref_path, timeout):
    """Waits for the job to complete; compares download and file with the reference."""
    st = server.wait_done(job_id, timeout)
    check(st["status"] == "completed", f"job {job_id} ended {st['status']}: {st.get('error')}")
    server.verify_download(job_id, ref_path)
    return st


# ---------------------------------------------------------------------------------------------------------
# The tests

FIGURES = {}


# Where a kill landed, told by the export_jobs row and the files once the killed server's sessions are
# gone (landing() checks each one's invariants).
NOTHING = "nothing on disk yet"
BEFORE_FIRST = "written, before the first checkpoint"
PAST_CHECKPOINT = "written past its checkpoint"
AT_CHECKPOINT = "at a checkpoint, the next chunk not yet written"
LAST_PENDING = "all written, the last checkpoint pending"
AFTER_LAST = "after the last checkpoint, before the rename"
RENAMED = "after the rename, before the completion was recorded"
COMPLETED = "after the completion was recorded"

# Kinds of kill. At random instants: "startup" soon after a spawn, "mid-chunk" at a random delay into the
# export, "after-write" just after bytesWritten moved (a buffer written, its checkpoint - fdatasync,
# UPDATE - in flight). Aimed, because their moments last too little to be hit at random: a Gate holds the
# chosen UPDATE in the database, and the kill comes once the files show the moment. "after-write (aimed)"
# follows an after-write whose random instant missed; "last-checkpoint" holds the last checkpoint's
# UPDATE; "before-rename" holds it too, then SIGSTOPs the server, lets the UPDATE commit and kills before
# the server can go on to the rename; "after-rename" holds the completion's UPDATE after the rename.
EARLY_KINDS = ["startup", "mid-chunk", "after-write"]
NEAR_END_KINDS = ["last-checkpoint", "before-rename", "after-rename"]
AIMED = {"after-write (aimed)": PAST_CHECKPOINT, "last-checkpoint": LAST_PENDING, "before-rename": AFTER_LAST,
         "after-rename": RENAMED}
# The moments the test claims to cover: each must have been landed on in every run.
REQUIRED = [PAST_CHECKPOINT, LAST_PENDING, AFTER_LAST, RENAMED]


def events_in(text, name):
    """The JSON log lines of `text` whose event is `name`."""
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == name:
                out.append(e)
    return out


def part_files(names, job):
    """The job's partial files among `names`: each lease writes its own, <job>.<lease token>.csv.part."""
    return sorted(n for n in names if n.startswith(job + ".") and n.endswith(".csv.part"))


def newest_part(data_dir, job):
    """The partial file of the job's newest lease (the one a kill interrupted), or a path that does not exist."""
    try:
        names = part_files(os.listdir(data_dir), job)
    except FileNotFoundError:
        names = []
    token = lambda n: int(n[len(job) + 1:-len(".csv.part")] or 0) if n[len(job) + 1:-len(".csv.part")].isdigit() else -1
    return os.path.join(data_dir, max(names, key=token) if names else f"{job}.none.csv.part")


def landing(what, row, part_size, final_exists, final, part, ref, ref_size, ends, total, contiguous):
    """Classifies the settled state after a kill and checks the invariants of its class: the checkpoint
    vouches only for whole records that are on disk and are the reference's; every byte of the .part is
    the reference's; <id>.csv is complete, and exists only once the last checkpoint is recorded; no .part
    once it exists; completed only with <id>.csv."""
    status, cp, rows, last = row["status"], row["bytes_written"], row["rows_exported"], row["last_processed_id"]
    check(status in ("queued", "running", "completed"), f"{what}: the job is {status}: {row}")
    if cp > 0:
        check(ends.get(cp) == rows,
              f"{what}: the checkpoint says {rows} rows in {cp} bytes, but the reference "
              + (f"has {ends[cp]} records in its first {cp} bytes" if cp in ends else
                 f"has no record ending at byte {cp}") + f": {row}")
        if contiguous:
            check(last == rows, f"{what}: rows_exported {rows} but last_processed_id {last} (ids are 1..{ROWS})")
    else:
        check(rows == 0 and last is None, f"{what}: no checkpoint bytes but {rows} rows, last id {last}: {row}")
    if status == "queued":
        check(cp == 0 and part_size is None and not final_exists,
              f"{what}: a queued job with a checkpoint or files: {row}, .part {part_size}, final {final_exists}")
    if final_exists:
        check(part_size is None, f"{what}: both {os.path.basename(final)} and its .part exist")
        check(cp == ref_size and rows == total,
              f"{what}: {os.path.basename(final)} exists but the record's checkpoint is {rows} rows/{cp} bytes "
              f"(the whole file is {total} rows/{ref_size} bytes)")
        compare_file(final, ref, f"{what}: {os.path.basename(final)}")
        return COMPLETED if status == "completed" else RENAMED
    check(status != "completed", f"{what}: the job is completed but {os.path.basename(final)} is missing")
    if part_size is None:
        check(cp == 0, f"{what}: a checkpoint of {cp} bytes but no .part")
        return NOTHING
    check(cp <= part_size <= ref_size,
          f"{what}: checkpoint {cp} bytes, .part {part_size} bytes, the whole file {ref_size} bytes")
    compare_file(part, ref, f"{what}: the {part_size} bytes of {os.path.basename(part)}", limit=part_size)
    if part_size == ref_size:
        return AFTER_LAST if cp == ref_size else LAST_PENDING
    if cp == 0:
        return BEFORE_FIRST
    return PAST_CHECKPOINT if part_size > cp else AT_CHECKPOINT


def kill_series(srv, gate, chunk, body, columns, where_sql, plan, totals, where_counts):
    """One job, killed once per entry of plan, restarted each time; then it must complete byte-identically."""
    ref = reference(columns, where_sql)
    ref_size = os.path.getsize(ref)
    ends = row_ends(ref)
    total = int(sql_value("SELECT count(*) FROM records" + (f" WHERE {where_sql}" if where_sql else "")))
    check(len(ends) == total + 1, f"the reference has {len(ends) - 1} records after its header, the table {total}")
    contiguous = where_sql is None  # ids 1..ROWS: rows_exported == last_processed_id at every checkpoint
    made = []
    untouched = {}  # job: (inode, mtime) of a <id>.csv the completion's record was killed before

    def new_job():
        if not srv.alive():
            srv.start()
        made.append(srv.create(body))
        say(f"  job {made[-1]}: {json.dumps(body)}, {total} rows, --chunk-rows {chunk}, reference {ref_size} bytes")
        return (made[-1], os.path.join(srv.data_dir, f"{made[-1]}.csv"), newest_part(srv.data_dir, made[-1]))

    plan = list(plan)
    # An aimed kind's gate must be closed before its job can get there: then the job is made after it.
    job, final, part = new_job() if plan[0] in EARLY_KINDS else (None, None, None)
    n_early = sum(1 for k in plan if k in EARLY_KINDS)
    early = 0

    def wait_or_line(delay, line):
        """Sleeps `delay` s, but stops early once rowsExported reaches `line` (so that the early kills
        leave work for the near-end ones however fast the export runs); True when stopped early."""
        until = time.monotonic() + delay
        while time.monotonic() < until:
            st = srv.status(job)
            if st is not None and (st["rowsExported"] >= line or st["status"] == "completed"):
                return True
            time.sleep(min(0.01, max(0.0, until - time.monotonic())))
        return False

    def wait_aimed(kind, ready, what):
        """Waits until ready() (a statement held at the gate)."""
        deadline = time.monotonic() + (900 if LONG else 300)
        stalled = Stall(STALL_SECONDS)
        while time.monotonic() < deadline:
            srv.check_alive(f"while waiting for {what} (a {kind} kill)")
            if ready():
                return
            row = job_row(job)
            check(row["status"] in ("queued", "running"),
                  f"job {job} ended {row['status']} while the gate should have held it before {what}")
            stalled.see(srv.status(job), f"job {job} before {what}")
            time.sleep(0.005)
        raise AssertionError(f"job {job}: no {what} within the deadline (held: {gate.held()}, row {job_row(job)})")

    def size_of(path):
        try:
            return os.path.getsize(path)
        except OSError:
            return None

    i = 0
    while i < len(plan):
        kind = plan[i]
        i += 1
        totals["kills"] += 1
        n = totals["kills"]
        note = ""
        gate_id = None
        if kind in EARLY_KINDS:
            # The early kills share the first 70% of the rows, whatever the speed of the export.
            line = total * 0.7 * (early + 1) / max(1, n_early)
            early += 1
            if not srv.alive():
                srv.spawn()
                if kind in ("mid-chunk", "after-write"):
                    srv.wait_healthy()
            if kind == "startup":
                delay = RNG.uniform(0.0, 0.6)
                cut = wait_or_line(delay, line)
                note = f"{delay * 1000:.0f} ms after the spawn" + (" (cut short: row budget)" if cut else "")
            elif kind == "mid-chunk":
                srv.wait_status(job, lambda s: s["status"] != "queued", 60, "start")
                delay = RNG.uniform(0.05, 0.8)
                cut = wait_or_line(delay, line)
                note = f"{delay * 1000:.0f} ms after the job was seen running" + (" (cut short)" if cut else "")
            else:
                first = srv.wait_status(job, lambda s: True, 60, "status")
                srv.wait_status(job, lambda s: s["status"] == "completed" or s["bytesWritten"] > first["bytesWritten"],
                                60, "bytesWritten to move", interval=0.001)
                delay = RNG.uniform(0.0, 0.015)
                time.sleep(delay)
                note = f"{delay * 1000:.1f} ms after bytesWritten moved"
            srv.check_alive(f"before kill #{n}")
            srv.kill()
        else:
            # Aimed: the gate is closed before the server can get there (it is dead, or the job new).
            if kind == "after-write (aimed)":
                gate_id = gate.close(status="running", moved_from=1)  # a checkpoint after an earlier one
            elif kind in ("last-checkpoint", "before-rename"):
                gate_id = gate.close(status="running", bytes_written=ref_size, moved_from=0)  # the last checkpoint
            else:
                gate_id = gate.close(status="completed")
            row = job_row(job) if job else None
            if row is None or row["status"] == "completed" or (kind != "after-rename" and
                                                               row["bytes_written"] == ref_size):
                # The series starts here, or an earlier kill came too late for this moment: a fresh job.
                job, final, part = new_job()
            elif not srv.alive():
                srv.spawn()
            # The held statement is the moment: the kill comes at once, and where it landed (the files
            # the server left) is judged below like any other.
            if kind == "after-write (aimed)":
                wait_aimed(kind, gate.held, "a checkpoint held after an earlier one")
                note = "its next checkpoint held in the database"
            elif kind in ("last-checkpoint", "before-rename"):
                wait_aimed(kind, gate.held, "the last checkpoint held")
                note = "the last checkpoint held in the database"
                if kind == "before-rename":
                    srv.freeze()
                    if not os.path.exists(final):  # else it renamed before its record: judged below
                        gate.open(gate_id)
                        deadline = time.monotonic() + 30
                        while job_row(job)["bytes_written"] != ref_size:
                            check(time.monotonic() < deadline, f"the released last checkpoint of {job} was not "
                                                               f"recorded within 30 s: {job_row(job)}")
                            time.sleep(0.005)
                        note = "SIGSTOP with the last checkpoint held, then it committed"
            else:
                wait_aimed(kind, gate.held, "the completion's record held")
                note = "the completion's record held in the database"
            srv.kill()

        # Where did it land? Once every session of the dead server is gone, the row no longer moves.
        wait_connections_gone(f"after kill #{n}")
        if gate_id is not None:
            gate.drop_held()
            gate.open(gate_id)
        row = job_row(job)
        part = newest_part(srv.data_dir, job)
        part_size = size_of(part)
        final_exists = os.path.exists(final)
        where = landing(f"after kill #{n} ({kind})", row, part_size, final_exists, final, part, ref, ref_size, ends,
                        total, contiguous)
        if row["status"] != "completed":
            totals["unfinished"] += 1
        where_counts[where] = where_counts.get(where, 0) + 1
        say(f"  kill #{n:2d} {kind:19s} {note:58s} -> {where}; checkpoint {row['rows_exported']} rows/"
            f"{row['bytes_written']} bytes, .part {part_size}")
        if kind in AIMED:
            check(where == AIMED[kind], f"kill #{n} was aimed at '{AIMED[kind]}' but landed '{where}'")
        if where == RENAMED:
            st = os.stat(final)
            untouched[job] = (st.st_ino, st.st_mtime_ns)
        if kind == "after-write" and where != PAST_CHECKPOINT:
            say(f"    (the random instant missed '{PAST_CHECKPOINT}': an aimed kill follows)")
            plan.insert(i, "after-write (aimed)")

    srv.start()
    t0 = time.monotonic()
    for job in made:
        st = finish_checks(srv, job, ref, 900 if LONG else 300)
        check(st["rowsExported"] == total, f"job {job}: rowsExported {st['rowsExported']}, expected {total}")
        files = set(os.listdir(srv.data_dir))
        check(not part_files(files, job), f"partial files left behind after completion: {part_files(files, job)}")
        if job in untouched:
            # Killed between the rename and the record: the restart records the file that is there.
            st_now = os.stat(os.path.join(srv.data_dir, f"{job}.csv"))
            check((st_now.st_ino, st_now.st_mtime_ns) == untouched[job],
                  f"{job}.csv was written again after a kill between its rename and its record")
        say(f"  job {job[:8]} completed {st['rowsExported']} rows, {st['bytesWritten']} bytes byte-identically, "
            f"{time.monotonic() - t0:.1f} s after the last start")
    # .pgexport-id: the data directory's identity, and webhook-secret: the notifications' key made at the
    # first start; both stay.
    stray = sorted(f for f in os.listdir(srv.data_dir)
                   if not f.endswith(".csv") and f not in (".pgexport-id", "webhook-secret"))
    check(not stray, f"stray files in the data directory: {stray}")


# Small chunks for the database faults: more round trips and checkpoints, so that an export lasts long
# enough to be hit however fast the engine is.
FAULT_CHUNK_ROWS = 200


def check_unavailable(r, what):
    """The contract's answer while the database is away: 503 with the JSON error object, code unavailable."""
    err = check_error_body(r, 503, what)
    check(err["code"] == "unavailable", f"{what}: error code {err['code']!r}, expected 'unavailable': {r!r}")
    return err


def check_healthz_down(port, what):
    h = request(port, "GET", "/healthz")
    check(h.status == 503, f"/healthz {what}: {h!r}")
    try:
        body = h.json()
    except ValueError:
        raise AssertionError(f"/healthz {what}: not JSON: {h!r}")
    # Other fields (the version) may come along; these two say the database is away.
    check({k: body.get(k) for k in ("status", "database")} == {"status": "unavailable", "database": "unreachable"},
          f"/healthz {what}: {h!r}")
    return h


def outage_answers(srv, running_job, before, ended_job, ended_ref, ended_rows):
    """While the database is down: what this process knows it answers from memory (its running job, a job
    whose end it has read), anything that needs the database is a 503 with the contract's error."""
    check_healthz_down(srv.port, "with the database down")
    r = request(srv.port, "GET", f"/api/export/{running_job}/status")
    check(r.status == 200, f"status of the running job {running_job} with the database down (the process "
                           f"knows it: from memory): {r!r}")
    st = r.json()
    # Its checkpoint in memory only moves forward; ids are 1..ROWS, so rows >= the last id checkpointed.
    cp = before["lastProcessedId"] or 0
    check(st["jobId"] == running_job and st["status"] == "running" and (st["lastProcessedId"] or 0) >= cp
          and st["rowsExported"] >= cp,
          f"status of the running job with the database down: {st} (before the outage: {before})")
    check_error_body(request(srv.port, "GET", f"/api/export/{running_job}/download"), 409,
                     "download of the running job with the database down")
    r = request(srv.port, "GET", f"/api/export/{ended_job}/status")
    check(r.status == 200, f"status of the completed job {ended_job} with the database down (read after its end: "
                           f"from memory): {r!r}")
    st = r.json()
    check(st["status"] == "completed" and st["rowsExported"] == ended_rows,
          f"status of the completed job with the database down: {st}")
    d = request(srv.port, "GET", f"/api/export/{ended_job}/download")
    check(d.status == 200, f"download of the completed job with the database down: {d!r}")
    with open(ended_ref, "rb") as f:
        check(d.body == f.read(), "download of the completed job with the database down: not the reference")
    unknown = "00000000-0000-4000-8000-000000000000"
    check_unavailable(request(srv.port, "GET", f"/api/export/{unknown}/status"),
                      "status of a job this process does not know, with the database down")
    check_unavailable(request(srv.port, "GET", "/api/export"), "GET /api/export with the database down")
    check_unavailable(request(srv.port, "POST", "/api/export", {}), "POST /api/export with the database down")
    check_unavailable(request(srv.port, "GET", "/api/records?limit=1"), "GET /api/records with the database down")


def unprivileged_ids():
    """(uid, gid) of the user `nobody` when running as root (root passes every permission check, so the
    read-only cases run as nobody); None when not root (the permissions then apply as they are)."""
    if os.geteuid() != 0:
        return None
    import pwd
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise AssertionError("running as root, and there is no user 'nobody' to run the read-only cases as")
    check(shutil.which("setpriv") is not None, "running as root, and setpriv (util-linux) is missing: the read-only "
                                                "cases need it to run the server as nobody")
    return pw.pw_uid, pw.pw_gid


# ---------------------------------------------------------------------------------------------------------
# Running

def stop_servers():
    """SIGTERM to each server still running: exit 0 (and no sanitizer report), or the case fails (the harness
    checks after each case)."""
    for s in SERVERS:
        s.close()


def settle_between_tests():
    """No job of one test may be taken up by the next test's server (each server resumes every one)."""
    stop_servers()
    SERVERS.clear()
    if not CLUSTER.running():
        CLUSTER.start()
    n = psql("WITH u AS (UPDATE export_jobs SET status = 'cancelled', finished_at = now() "
             "WHERE status IN ('queued', 'running') RETURNING 1) SELECT count(*) FROM u").decode().strip()
    if n not in ("", "0"):
        say(f"  (cancelled {n} unfinished job(s) left by the test)")


def setUpModule():
    global CLUSTER
    unittest.addModuleCleanup(shutil.rmtree, WORK, ignore_errors=True)
    say(f"faults.py: seed {SEED} ({'long' if LONG else 'short'} version: {ROWS} rows, {KILLS} kills, "
        f"{DB_RESTARTS} database restart(s), {TERMINATIONS} terminations); binary {BINARY}")
    t0 = time.monotonic()
    CLUSTER = unittest.enterModuleContext(private_cluster("faults"))
    harness.seed(BINARY, CLUSTER.url, ROWS)
    lo, hi, count = sql_value("SELECT min(id), max(id), count(*) FROM records").split("|")
    check((int(lo), int(hi), int(count)) == (1, ROWS, ROWS), f"records ids are not 1..{ROWS}: {lo}..{hi}, {count} rows")
    p = subprocess.run([BINARY, "migrate", "--database", CLUSTER.url], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"migrate failed: {p.stderr}")
    say(f"set-up: cluster on port {CLUSTER.port}, {ROWS} rows seeded, reference "
        f"{os.path.getsize(reference())} bytes in {time.monotonic() - t0:.1f} s")


def tearDownModule():
    figures = ", ".join(f"{k}: {v}" for k, v in FIGURES.items())
    say(f"faults injected: {figures or 'none'}; seed {SEED}")


class faults(unittest.TestCase):
    def tearDown(self):
        settle_between_tests()

    def test_kills(self):
        """SIGKILL at random and at aimed instants; restarts on the same data directory; completes byte-identically."""
        chunk = 2000
        n_second = len(NEAR_END_KINDS) if LONG else 0  # the long version: a second job, the key not the first column
        plan = [EARLY_KINDS[i % len(EARLY_KINDS)] for i in range(KILLS - len(NEAR_END_KINDS) - n_second)]
        RNG.shuffle(plan)
        series = [({}, "*", None, plan + NEAR_END_KINDS)]
        if n_second:
            series.append(({"filters": {"category": "books"}, "columns": ["name", "id", "amount"]}, "name, id, amount",
                           "category = 'books'", list(NEAR_END_KINDS)))
        totals = {"kills": 0, "unfinished": 0}
        where_counts = {}
        with Gate() as gate:
            srv = Server("kills", chunk_rows=chunk).start()
            for body, columns, where_sql, kinds in series:
                kill_series(srv, gate, chunk, body, columns, where_sql, kinds, totals, where_counts)
            no_unfinished(srv)
        restarted = srv.events("job_restarted")
        check(not restarted, f"the engine started the file over after a SIGKILL (a checkpoint ahead of the disk?): "
                             f"{restarted}")
        check(totals["unfinished"] >= (KILLS + 1) // 2,
              f"only {totals['unfinished']} of {totals['kills']} kills hit the job before it completed: the export is "
              "too fast for the kill plan")
        missing = [w for w in REQUIRED if w not in where_counts]
        check(not missing, f"no kill landed {missing} (landed: {where_counts})")
        FIGURES["kills survived"] = totals["kills"]
        say(f"  {totals['kills']} kills survived ({totals['unfinished']} before completion), {srv.starts} server starts;"
            " where the kills landed:")
        for where, n in sorted(where_counts.items()):
            say(f"    {n:2d} x {where}")

    def test_db_restart(self):
        """tools/pg stop + start during an export: the job retries with backoff and completes byte-identically."""
        ref = reference()
        ref_small = reference(where="category = 'books' AND created_at >= '2024-03-04T00:00:00Z' "
                                    "AND created_at < '2024-03-11T00:00:00Z'")
        srv = Server("db_restart", chunk_rows=FAULT_CHUNK_ROWS).start()
        # A small job that has ended, its end read once through the API: the process remembers it.
        small = srv.create({"filters": {"category": "books", "created_at": {"gte": WEEK[0], "lt": WEEK[1]}}})
        small_st = finish_checks(srv, small, ref_small, 120)
        outages = []
        made = []
        with Gate() as gate:
            for k in range(DB_RESTARTS):
                # A fresh job for every restart (the previous one may still be running: then both are hit).
                job = srv.create({})
                made.append(job)
                mark = ROWS // 8
                st = srv.wait_status(job, lambda s: s["rowsExported"] >= mark or s["status"] not in ("queued", "running"),
                                     300, f"{mark} rows exported")
                check(st["status"] == "running", f"job {job} is {st['status']} before database restart #{k + 1}")
                # The job's completion is held in the database from here on: once the gate is there and the
                # record is short of the end, the job cannot end before the database goes down.
                gate_id = gate.close(job=job, status="completed")
                row = job_row(job)
                check(row["status"] == "running" and row["rows_exported"] < ROWS,
                      f"job {job} reached its end before the database could be stopped (the export is too fast for "
                      f"this test): {row}")
                before = srv.status(job)
                check(before is not None and before["status"] == "running", f"status of {job} before the stop: {before}")
                down = RNG.uniform(0.1, 1.5)
                t0 = time.monotonic()
                CLUSTER.stop()
                outage_answers(srv, job, before, small, ref_small, small_st["rowsExported"])
                time.sleep(max(0.0, down - (time.monotonic() - t0)))  # a random length of outage
                CLUSTER.start()
                outages.append(time.monotonic() - t0)
                gate.open(gate_id)
                say(f"  restart #{k + 1}: database stopped with job {job[:8]} at {st['rowsExported']} rows, back after "
                    f"{outages[-1]:.2f} s; meanwhile /healthz 503, status of the running and of a completed job 200 "
                    "from memory, the rest 503 'unavailable'")
        for job in made:
            finish_checks(srv, job, ref, 600 if LONG else 300)
        retries = srv.events("job_retry")
        missed = [j for j in made if not any(r.get("job") == j for r in retries)]
        check(not missed, f"no job_retry in the log for {missed}: the database restart did not reach the job")
        check(request(srv.port, "GET", "/healthz").status == 200, "/healthz is not 200 after the restarts")
        no_unfinished(srv)
        FIGURES["database restarts"] = DB_RESTARTS
        say(f"  {DB_RESTARTS} database restart(s) (outages {', '.join(f'{o:.2f} s' for o in outages)}), "
            f"{len(retries)} retries (errors: {sorted({r.get('error', '')[:70] for r in retries})}); "
            f"{len(made)} job(s) of {ROWS} rows completed byte-identically")

    def test_terminate(self):
        """pg_terminate_backend on the job's COPY connection, several times; completes byte-identically."""
        ref = reference()
        srv = Server("terminate", chunk_rows=FAULT_CHUNK_ROWS).start()
        made = [srv.create({})]
        done = 0
        last_cp = None
        deadline = time.monotonic() + (600 if LONG else 240)
        at = []
        stalled = Stall(STALL_SECONDS)
        while done < TERMINATIONS and time.monotonic() < deadline:
            srv.check_alive("between terminations")
            job = made[-1]
            st = srv.status(job)
            stalled.see(st, f"job {job} between terminations")
            if st is None:
                time.sleep(0.02)
                continue
            if st["status"] not in ("running", "queued"):
                # Finished before all the terminations: go on with a fresh job.
                check(len(made) < 20, f"{len(made)} jobs and only {done} terminations")
                made.append(srv.create({}))
                last_cp = None
                stalled = Stall(STALL_SECONDS)
                continue
            # Wait for a checkpoint after the previous termination, so that the retries do not pile up.
            cp = st["lastProcessedId"]
            if st["status"] == "running" and cp is not None and (last_cp is None or cp > last_cp):
                time.sleep(RNG.uniform(0.0, 0.1))
                out = psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgexport' "
                           "AND query LIKE 'COPY%'").decode().split()
                if "t" in out:
                    done += 1
                    last_cp = cp
                    at.append(f"{job[:8]}@{cp}")
                    continue
            time.sleep(0.01)
        check(done == TERMINATIONS, f"only {done} of {TERMINATIONS} terminations before the deadline")
        for job in made:
            finish_checks(srv, job, ref, 600 if LONG else 300)
        retries = srv.events("job_retry")
        check(len(retries) >= done, f"{done} terminations but {len(retries)} job_retry events in the log")
        no_unfinished(srv)
        FIGURES["connections terminated"] = done
        say(f"  {done} COPY connections terminated (job@checkpoint: {', '.join(at)}), {len(retries)} retries; "
            f"{len(made)} job(s) of {ROWS} rows completed byte-identically")

    def test_unreachable_at_start(self):
        """The database down when serve starts: 503s, then the unfinished job resumes once it is back."""
        ref = reference()
        srv = Server("unreachable", chunk_rows=FAULT_CHUNK_ROWS).start()
        job = srv.create({})
        srv.wait_status(job, lambda s: (s["lastProcessedId"] or 0) >= ROWS // 5 or s["status"] == "completed", 300,
                        f"a checkpoint past {ROWS // 5}", interval=0.01)
        srv.kill()
        wait_connections_gone("after the kill")
        row = job_row(job)
        check(row["status"] == "running" and row["rows_exported"] > 0,
              f"after the kill the job is {row}" + (": it completed before it could be killed, the export is too fast "
                                                    "for this test" if row["status"] == "completed" else ""))
        say(f"  job {job} killed with its checkpoint at {row['rows_exported']} rows")
        CLUSTER.stop()
        srv.spawn()
        r = srv.wait_answering(30)
        check(r.status == 503, f"/healthz with the database down: {r!r}")
        h = check_healthz_down(srv.port, "with the database down at start")
        # Nothing is known to this process yet (the engine has not started): every API answer needs the
        # database, so each is the contract's 503 error; only a malformed id is refused without it.
        p = request(srv.port, "POST", "/api/export", {})
        check_unavailable(p, "POST /api/export with the database down")
        s = request(srv.port, "GET", f"/api/export/{job}/status")
        check_unavailable(s, "status of the unfinished job with the database down at start (not known to the process)")
        check_unavailable(request(srv.port, "GET", "/api/export"), "GET /api/export with the database down")
        check_unavailable(request(srv.port, "GET", f"/api/export/{job}/download"), "download with the database down")
        check_unavailable(request(srv.port, "DELETE", f"/api/export/{job}"), "DELETE with the database down")
        check_unavailable(request(srv.port, "GET", "/api/records?limit=1"), "GET /api/records with the database down")
        bad = request(srv.port, "GET", "/api/export/not-a-uuid/status")
        check(check_error_body(bad, 400, "status of a malformed id with the database down")["code"] == "invalid_request",
              f"status of a malformed id with the database down: {bad!r}")
        say(f"  database down: /healthz {h.status} {h.body.decode().strip()}; POST, status, list, download, DELETE, "
            f"records 503 {s.body.decode(errors='replace').strip()[:120]}; a malformed id 400")
        # It stays up and keeps saying 503 while the engine tries again and again.
        deadline = time.monotonic() + 60
        while len(srv.events_since_start("database_unreachable")) < 3:
            srv.check_alive("with the database down")
            check(time.monotonic() < deadline, "the server did not log three failed attempts at the database in 60 s")
            check_healthz_down(srv.port, "with the database down")
            time.sleep(0.05)
        check_unavailable(request(srv.port, "GET", f"/api/export/{job}/status"),
                          "status of the unfinished job after the engine's retries")
        check(srv.events_since_start("engine_started") == [], "the engine says it started with the database down")
        t0 = time.monotonic()
        CLUSTER.start()
        t_db = time.monotonic() - t0
        deadline = t0 + 30
        while time.monotonic() < deadline:
            srv.check_alive("after the database came back")
            if request(srv.port, "GET", "/healthz").status == 200:
                break
            time.sleep(0.05)
        t_healthy = time.monotonic() - t0
        check(t_healthy < 30, f"/healthz still not 200 {t_healthy:.0f} s after the database was started")
        srv.wait_healthy(30)
        t_ready = time.monotonic() - t0
        st = finish_checks(srv, job, ref, 600 if LONG else 300)
        started = srv.events("job_started")
        resumed_at = [e.get("resumed_at_row") for e in started]
        check(row["rows_exported"] in resumed_at,
              f"the job was not resumed at its checkpoint ({row['rows_exported']} rows): job_started {resumed_at}")
        check(not srv.events("job_restarted"), "the job's file was started over")
        no_unfinished(srv)
        FIGURES["database down at start"] = 1
        say(f"  database started in {t_db:.1f} s; /healthz 200 {t_healthy:.1f} s and the API ready {t_ready:.1f} s "
            f"after the start command; job resumed at row {row['rows_exported']} and completed {st['rowsExported']} "
            "rows byte-identically")

    def test_file_size_limit(self):
        """prlimit --fsize: the export hits EFBIG; it fails cleanly, the server keeps serving."""
        ref_small = reference(where="category = 'books' AND created_at >= '2024-03-04T00:00:00Z' "
                                    "AND created_at < '2024-03-11T00:00:00Z'")
        check(os.path.getsize(ref_small) < FSIZE_LIMIT // 4, "the small export is not small")
        srv = Server("fsize", chunk_rows=2000, fsize=FSIZE_LIMIT).start()
        job = srv.create({})
        try:
            st = srv.wait_done(job, 300)
        except AssertionError:
            if srv.process.poll() == -signal.SIGXFSZ:
                raise AssertionError("PRODUCT BUG: serve was killed by SIGXFSZ when the export went over the file-size "
                                  "limit; serve should ignore SIGXFSZ so that write() fails with EFBIG and the job fails")
            raise
        srv.check_alive("after the export hit the file-size limit")
        check(st["status"] == "failed", f"the job over the file-size limit ended {st['status']}, expected failed: {st}")
        error = st.get("error") or ""
        say(f"  job {job} failed at {FSIZE_LIMIT} bytes: {error!r}")
        low = error.lower()
        check("too large" in low or "efbig" in low or "size" in low or "space" in low,
              f"the error does not say what went wrong with the file: {error!r}")
        check(job in error or srv.data_dir in error, f"the error does not name the file: {error!r}")
        files = sorted(os.listdir(srv.data_dir))
        check(f"{job}.csv" not in files, f"{job}.csv exists for a failed job")
        check(not part_files(files, job), f"the partial file of the failed job was left behind: {files}")
        d = request(srv.port, "GET", f"/api/export/{job}/download")
        check_error_body(d, 409, "download of the failed job")
        h = request(srv.port, "GET", "/healthz")
        check(h.status == 200, f"/healthz after the failure: {h!r}")
        small = srv.create({"filters": {"category": "books", "created_at": {"gte": WEEK[0], "lt": WEEK[1]}}})
        st2 = finish_checks(srv, small, ref_small, 120)
        srv.check_alive("at the end")
        no_unfinished(srv)
        FIGURES["file-size limit hit"] = 1
        say(f"  server still serving (/healthz 200, download 409); small export {small} completed "
            f"{st2['rowsExported']} rows, {st2['bytesWritten']} bytes, byte-identical")

    def test_unwritable_data_dir(self):
        """A data directory that cannot be created or written: serve exits non-zero at once, naming it."""
        blocker = os.path.join(WORK, "a-regular-file")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        ro = os.path.join(WORK, "read-only")
        os.mkdir(ro)
        os.chmod(ro, 0o555)
        ids = unprivileged_ids()
        who = "nobody" if ids else "this user"
        # The same user first with a directory it may write: it must serve, or the failures below would
        # prove nothing about the directories (say the binary or the database out of its reach).
        ok_dir = os.path.join(WORK, "writable-by-the-user")
        os.mkdir(ok_dir)
        if ids:
            os.chown(ok_dir, *ids)
        srv = Server("dir-control", data_dir=os.path.join(ok_dir, "exports"), as_user=ids)
        srv.spawn()
        try:
            srv.wait_healthy(30)
        except AssertionError as e:
            raise AssertionError(f"serve as {who} with a writable data directory did not come up, so the read-only cases "
                              f"cannot be run: {e}\n{srv.log_tail(10)}")
        check(os.path.isdir(os.path.join(ok_dir, "exports")), "serve did not create its data directory")
        srv.kill()
        cases = [(os.path.join(blocker, "exports"), None, "not a directory"),
                 (blocker, None, "not a directory"),
                 (os.path.join(ro, "exports"), ids, "permission denied"),
                 (ro, ids, "permission denied")]
        for n, (path, as_user, reason) in enumerate(cases):
            srv = Server(f"baddir{n}", data_dir=path, as_user=as_user)
            t0 = time.monotonic()
            srv.spawn()
            rc = srv.wait_exit(20, expect=None)
            took = time.monotonic() - t0
            log = srv.log_text()
            check(rc != 0, f"serve --data-dir {path} exited 0")
            lines = [line for line in log.splitlines() if path in line and not line.startswith("=====")]
            check(lines, f"serve --data-dir {path} exited {rc} without naming the directory on stderr:\n{log}")
            check(any(reason in line.lower() for line in lines),
                  f"serve --data-dir {path} does not say '{reason}':\n{log}")
            say(f"  --data-dir {path} (as {'nobody' if as_user else 'the test user'}): exit {rc} after {took:.2f} s: "
                f"{lines[-1][:220]}")
        FIGURES["unusable data directories"] = len(cases)


if __name__ == "__main__":
    main()
