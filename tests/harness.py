"""The one test harness of pgexport's Python suites (tests/e2e/, tests/package/), bench/run and tools/soak.

- PostgreSQL: `psql`, COPY as the reference (`copy_csv`, `copy_to_file`), a `scratch_database` next to the
  admin URL that tools/test hands over (`shared_database`: one for a suite's classes), a `private_cluster`
  (tools/pg: its own directory and port, stopped and started at will), a `streaming_standby` of one (its
  replay paused and resumed at will), and gates that hold an export still at a known point.
- Object storage: `s3_server`, a local s3rver (kill, restart, freeze), checked with Debian's awscli.
- The server: `server`, one `pgexport serve` process on a free port (start, wait for /healthz and a ready
  API, SIGTERM, kill -9, SIGSTOP, restart on the same data directory, its log and log events), with the API
  client on it (create, status, wait for a state, download, metrics).
- Byte comparison (`check_same_bytes`, `compare_file` without holding a file in memory), and waits for a
  state with a bound (`wait_until`): no test waits for time where it can wait for a state.
- `main()`: runs a suite's unittest TestCase classes in the order they are written, one line per case,
  and exits 1 when any case failed, erred or was skipped (a skip is not a pass). After each case every
  server's new log lines are read for sanitizer reports (AddressSanitizer, LeakSanitizer, UBSan,
  ThreadSanitizer) and every stop the case asked for must have ended with exit 0: either fails the case.
  SIGTERM (or Ctrl-C) stops the run: servers, clusters, standbys, s3rver and scratch databases are cleaned
  up, and it exits 143 (130).

Standard library only."""
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HTTP_TIMEOUT = 20  # seconds for one request: a hang is a failure, not a stuck run
# How much slower a sanitized server is (tools/test --sanitize, a Debug build with ASan and UBSan, and
# --tsan set these variables): the bounds a test puts on latencies grow by it, so that they still catch a
# hang or a starved client, not the build. (Measured: a /healthz beside a 100,000-value request took 4.3 s
# under ASan on a loaded machine, where Release stays under 1 s.)
SLOWDOWN = 10 if "ASAN_OPTIONS" in os.environ else 5 if "TSAN_OPTIONS" in os.environ else 1

# The session settings of the contract's reference COPY; no libpq default that could point psql elsewhere.
PSQL_ENV = dict(os.environ, PGTZ="UTC", PGDATESTYLE="ISO, MDY", PGOPTIONS="-c extra_float_digits=3",
                PGCLIENTENCODING="UTF8")
for _v in ("PGDATABASE", "PGSERVICE", "PGHOST", "PGPORT", "PGUSER"):
    PSQL_ENV.pop(_v, None)


# ---------------------------------------------------------------------------------------------------------
# Checks and waits

def check(ok, what):
    if not ok:
        raise AssertionError(what)


def wait_until(what, predicate, timeout=30, poll=0.02):
    """Polls predicate() until it returns something true, and returns that; fails naming `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        check(time.monotonic() < deadline, f"{what}: not within {timeout} s")
        time.sleep(poll)


def first_difference(a, b):
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def _around(i, got, expected):
    lo = max(0, i - 60)
    return f"got {got[lo:i + 60]!r}, expected {expected[lo:i + 60]!r}"


def check_same_bytes(got, expected, what):
    if got == expected:
        return
    i = first_difference(got, expected)
    raise AssertionError(f"{what}: {len(got)} bytes differ from the reference's {len(expected)} bytes at offset "
                         f"{i}: {_around(i, got, expected)}")


def compare_stream(read, ref_path, what, limit=None):
    """Compares the bytes read(n) yields with the reference file (only its first `limit` bytes when given),
    a MiB at a time."""
    size = os.path.getsize(ref_path) if limit is None else limit
    offset = 0
    with open(ref_path, "rb") as ref:
        while limit is None or offset < size:
            block = read(1 << 20 if limit is None else min(1 << 20, size - offset))
            if not block:
                break
            want = ref.read(len(block))
            if block != want:
                i = first_difference(block, want)
                check(i != len(want), f"{what}: longer than the reference ({size} bytes)")
                raise AssertionError(f"{what}: first difference at byte {offset + i}: {_around(i, block, want)}")
            offset += len(block)
    check(offset == size, f"{what}: {offset} bytes, the reference has {size}")


def compare_file(path, ref_path, what, limit=None):
    with open(path, "rb") as f:
        compare_stream(f.read, ref_path, what, limit)


# ---------------------------------------------------------------------------------------------------------
# Sanitizer reports and what is left to clean up

# The first line of a report of each sanitizer, as it writes it to stderr (a server's log): ASan and LSan
# "==PID==ERROR: AddressSanitizer: ...", TSan "WARNING: ThreadSanitizer: ...", UBSan "file:line:col:
# runtime error: ...", and the SUMMARY line each ends with.
SANITIZER_REPORT = re.compile(
    r"(?:==\d+==\s*)?(?:ERROR: (?:AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer)"
    r"|SUMMARY: (?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer)"
    r"|\S+:\d+(?::\d+)?: runtime error: ")


def sanitizer_reports(text):
    """The lines of `text` that start a sanitizer's report or sum one up (none: an empty list)."""
    return [line for line in text.splitlines() if SANITIZER_REPORT.match(line)]


def check_no_sanitizer_report(text, what):
    """Fails when `text` (a process's stderr) holds a sanitizer report, showing it."""
    reports = sanitizer_reports(text)
    if reports:
        start = max(text.find(reports[0]) - 200, 0)
        raise AssertionError(f"{what}: {len(reports)} sanitizer report line(s): {reports[:4]}\n{text[start:start + 6000]}")


_resources = []  # clusters, standbys, s3rver: what an interrupted run must still destroy


# ---------------------------------------------------------------------------------------------------------
# Processes

# Ports below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 and up by default): a
# service that a test stops and starts again on its port (a cluster down for minutes, s3rver) must not find
# it taken by the local end of some outgoing connection meanwhile, which any port of that range can become.
PORTS = range(20000, 32768)


def free_port():
    """A TCP port of 127.0.0.1 that no one uses now, outside the ephemeral range."""
    for _ in range(1000):
        port = random.choice(PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def binary():
    """The pgexport executable a suite was given: its first argument (ctest passes it)."""
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        raise SystemExit(f"usage: {os.path.basename(sys.argv[0])} <pgexport binary> [unittest arguments]")
    return os.path.abspath(sys.argv[1])


def server_env():
    """The environment of a process under test: none of our PGEXPORT_ settings, which it would read as options."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PGEXPORT_") and k != "DATABASE_URL"}


def describe_exit(code):
    """'exited with N' or 'killed by signal NAME', of a Popen returncode."""
    return f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"


def terminate(process, timeout=15, sig=signal.SIGTERM):
    """`sig` (SIGTERM; pgbench, say, reports on SIGINT), then SIGKILL after `timeout` s; returns the exit code
    (None when it had to be killed)."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a stopped process would not see the signal
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)
        return None


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL

class psql_error(subprocess.CalledProcessError):
    def __str__(self):
        return f"psql failed ({self.returncode}) for {self.cmd[-1][:200]!r}: {self.stderr.decode(errors='replace')}"


def psql(url, sql, timeout=120, check=True):
    """Runs sql and returns stdout as bytes (unaligned, tuples only); raises psql_error (with psql's message)
    when it fails, unless check=False."""
    p = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", url, "-c", sql], env=PSQL_ENV,
                       capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise psql_error(p.returncode, p.args, p.stdout, p.stderr)
    return p.stdout


def sql_value(url, sql):
    return psql(url, sql).decode().strip()


def copy_csv(url, select):
    """What PostgreSQL writes for COPY (select) TO STDOUT WITH (FORMAT csv, HEADER true)."""
    return psql(url, f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER true)")


def copy_to_file(url, select, path, options="FORMAT csv, HEADER true", timeout=600):
    """COPY (select) TO STDOUT WITH (options), written to `path` as psql receives it (no copy in memory)."""
    with open(path, "wb") as out:
        p = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", url, "-c",
                            f"COPY ({select}) TO STDOUT WITH ({options})"],
                           env=PSQL_ENV, stdout=out, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise psql_error(p.returncode, p.args, b"", p.stderr)
    return path


def admin_url():
    url = os.environ.get("PGEXPORT_TEST_DATABASE_URL")
    if not url:
        raise SystemExit("PGEXPORT_TEST_DATABASE_URL is not set: run through tools/test")
    return url


def database_url(url, name):
    """`url` with its database replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextlib.contextmanager
def scratch_database(prefix, admin=None):
    """A database of its own next to the admin URL's, dropped afterwards (with its connections), also on
    failure."""
    admin = admin or admin_url()
    name = f"{prefix}_{os.getpid()}"
    url = database_url(admin, name)
    psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(admin, f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


def shared_database(binary_path, prefix, rows, prepare=None):
    """A TestCase base for the classes of a suite that share one scratch database of `prefix` (`rows` demo
    rows, then prepare(url) when given) and one work directory: made in the setUpClass of the first class
    that runs, removed once the module's cases ran; `url` and `work` in every case. A subclass's own
    setUpClass calls super().setUpClass() first."""

    class shared(unittest.TestCase):
        url = work = None

        @classmethod
        def setUpClass(cls):
            if shared.url is None:
                url = unittest.enterModuleContext(scratch_database(prefix))
                seed(binary_path, url, rows)
                if prepare:
                    prepare(url)
                shared.work = unittest.enterModuleContext(tempfile.TemporaryDirectory(prefix=f"pgexport-{prefix}-"))
                shared.url = url

    return shared


def seed(binary_path, url, rows, timeout=900):
    """`pgexport seed`: the demo table `records` with `rows` deterministic rows."""
    p = subprocess.run([binary_path, "seed", "--rows", str(rows), "--database", url], capture_output=True,
                       text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"seed failed ({p.returncode}): {p.stdout[-2000:]} {p.stderr[-2000:]}")


class private_cluster:
    """A PostgreSQL cluster of its own through tools/pg (own directory under /tmp and port), so that a test
    can stop and start it at will; destroyed on exit (or destroy()), also on failure."""

    def __init__(self, name, port=None):
        self.dir = tempfile.mkdtemp(prefix=f"pgexport-{name}-pg-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.port = port or free_port()
        self.env = dict(os.environ, PGEXPORT_PG_DIR=self.dir, PGEXPORT_PG_PORT=str(self.port), PGEXPORT_PG_DB=name)
        self.stops = 0
        _resources.append(self.destroy)
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise

    def _tool(self, command, timeout=180):
        p = subprocess.run([os.path.join(ROOT, "tools", "pg"), command], env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"tools/pg {command} failed ({p.returncode}): {p.stderr.strip()}")
        return p.stdout.strip()

    def start(self):
        """Starts it (tools/pg waits until it accepts connections) and returns its URL."""
        self.url = self._tool("start").splitlines()[-1].strip()
        return self.url

    def stop(self):
        self.stops += 1
        self._tool("stop")

    def running(self):
        return subprocess.run([os.path.join(ROOT, "tools", "pg"), "status"], env=self.env, capture_output=True,
                              timeout=60).returncode == 0

    def destroy(self):
        if not os.path.isdir(self.dir):
            return
        subprocess.run([os.path.join(ROOT, "tools", "pg"), "destroy"], env=self.env, capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()


def pg_bindir():
    """PostgreSQL's server programs (pg_basebackup, pg_ctl), outside PATH on Debian."""
    for d in (subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(),
              "/usr/lib/postgresql/15/bin"):
        if d and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    raise RuntimeError("PostgreSQL's server programs not found (pg_config --bindir, /usr/lib/postgresql/15/bin)")


def as_cluster_owner(command, timeout=300):
    """Runs a server program as the clusters' owner (postgres refuses root); raises with its stderr."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    p = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{os.path.basename(command[0])} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


class streaming_standby:
    """A hot standby of the cluster at `primary_url`, made with `pg_basebackup -R` (streaming replication,
    primary_conninfo written by pg_basebackup), in a directory and on a port of its own; `url` reaches the
    same database on it. stop() and start() at will; destroyed on exit, also on failure. The primary must
    accept replication connections from 127.0.0.1 (initdb's pg_hba does; wal_level replica is the
    default)."""

    def __init__(self, primary_url, name="standby", port=None):
        self.dir = tempfile.mkdtemp(prefix=f"pgexport-{name}-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = port or free_port()
        self.bindir = pg_bindir()
        parts = urlsplit(primary_url)
        netloc = parts.netloc.rsplit(":", 1)[0] + f":{self.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        _resources.append(self.destroy)
        try:
            if os.getuid() == 0:
                shutil.chown(self.dir, "postgres", "postgres")
            self._as_owner(os.path.join(self.bindir, "pg_basebackup"), "-d", primary_url, "-D", self.data, "-R",
                           "-X", "stream", "-c", "fast")
            self.start()
        except BaseException:
            self.destroy()
            raise

    def _as_owner(self, *command):
        try:
            return as_cluster_owner(command)
        except RuntimeError as e:
            raise RuntimeError(f"{e}{self.log_tail()}") from None

    def log_tail(self, chars=2000):
        try:
            return "\n" + open(os.path.join(self.dir, "server.log"), errors="replace").read()[-chars:]
        except OSError:
            return ""

    def start(self):
        """Starts it and returns once it accepts read-only connections."""
        self._as_owner(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                       "-w", "-t", "120", "-o", f"-p {self.port} -c unix_socket_directories={self.dir}", "start")

    def stop(self):
        """Stops it (fast: sessions are ended, as a restart of the standby does)."""
        self._as_owner(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def replay_lsn(self):
        return psql(self.url, "SELECT pg_last_wal_replay_lsn()").decode().strip()

    def wait_for_replay(self, primary_url, timeout=120):
        """Waits until it has replayed everything the primary has written now."""
        target = psql(primary_url, "SELECT pg_current_wal_insert_lsn()").decode().strip()
        wait_until(f"the standby replays past {target}",
                   lambda: psql(self.url, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn").strip() == b"t",
                   timeout, poll=0.1)

    def pause_replay(self, timeout=30):
        """Pauses WAL replay and returns once the standby says it is paused (a pause is only requested until
        the startup process sees it): from then on it lags behind whatever the primary writes."""
        psql(self.url, "SELECT pg_wal_replay_pause()")
        wait_until("replay is paused",
                   lambda: psql(self.url, "SELECT pg_get_wal_replay_pause_state()").strip() == b"paused",
                   timeout, poll=0.05)

    def resume_replay(self):
        """Resumes WAL replay (nothing happens if it was not paused)."""
        psql(self.url, "SELECT pg_wal_replay_resume()")

    @contextlib.contextmanager
    def replay_paused(self, timeout=30):
        """pause_replay() for the block; replay resumes when it ends, also on failure (resuming inside the
        block too is fine)."""
        try:
            self.pause_replay(timeout)
            yield self
        finally:
            self.resume_replay()

    def destroy(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
            subprocess.run([*prefix, os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w",
                            "stop"], capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()


# ---------------------------------------------------------------------------------------------------------
# A gate: a view of a table whose export can be held still at a known point, so that a test that needs a
# job "still running" makes it so instead of hoping the machine is slow enough.

GATE_LOCK = 727272  # the advisory lock a held gate takes; readers of gated rows wait for it


def install_gate(url, view="records_gated", table="records", key="id", open_below=0):
    """Creates (or redefines) `view` as every row of `table`. Rows whose key is above `open_below` pass
    pgexport_test_gate(), which waits while a `held_gate` is held, and only inside a COPY, so that creating
    a job (max(key), the plan) never waits. Redefining the view moves the threshold for the next chunk."""
    psql(url, f"""
CREATE OR REPLACE FUNCTION pgexport_test_gate() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF current_query() ILIKE 'COPY%' THEN
        PERFORM pg_advisory_lock_shared({GATE_LOCK});
        PERFORM pg_advisory_unlock_shared({GATE_LOCK});
    END IF;
    RETURN true;
END $$;
CREATE OR REPLACE VIEW {view} AS SELECT * FROM {table} WHERE {key} <= {int(open_below)} OR pgexport_test_gate();
""")


def gate_waiters(url):
    """How many sessions wait at the gate of url's database right now (tests beside this one may hold
    gates of their own databases: the same lock number, another lock)."""
    return int(psql(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                         f" AND objid = {GATE_LOCK}"
                         " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
               .decode().strip() or 0)


class held_gate:
    """Holds the gate closed from a psql session of its own until release() (or the end of the with)."""

    def __init__(self, url):
        self.url = url
        self.session = subprocess.Popen(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", url], env=PSQL_ENV,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.session.stdin.write(f"SELECT pg_advisory_lock({GATE_LOCK});\n\\echo gate-held\n")
        self.session.stdin.flush()
        for line in self.session.stdout:
            if line.strip() == "gate-held":
                break
        else:
            raise RuntimeError("could not take the gate's advisory lock")

    def wait_for_waiters(self, count=1, timeout=60):
        """Waits until `count` sessions wait at the gate (a job is running and cannot move on)."""
        wait_until(f"{count} session(s) at the gate", lambda: gate_waiters(self.url) >= count, timeout)

    def release(self):
        if self.session.poll() is None:
            self.session.stdin.write("\\q\n")
            self.session.stdin.close()
            self.session.wait(30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


# ---------------------------------------------------------------------------------------------------------
# A writer: small transactions committed as fast as they go from a psql session of its own, while an export
# runs (tests/e2e/consistency.py, bench/run's consistency section).

class sql_writer:
    """Commits the statements next() returns (each a transaction: one statement, or BEGIN ...; COMMIT;) on
    `url` from a psql session and a thread of its own, in batches of `batch`, until stop(); `done` counts the
    committed ones. pause() returns once nothing more is being written; resume() goes on."""

    def __init__(self, url, next_statement, name="writer", batch=20):
        import threading
        self.name, self.next_statement, self.batch = name, next_statement, batch
        self.done = 0
        self.error = None
        self._wanted = threading.Event()
        self._wanted.set()
        self._idle = threading.Event()
        self._stopping = False
        self.session = subprocess.Popen(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", url], env=PSQL_ENV,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        _resources.append(self._kill)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                if not self._wanted.is_set():
                    self._idle.set()
                    self._wanted.wait()
                    self._idle.clear()
                if self._stopping:
                    break
                text = "\n".join(self.next_statement() for _ in range(self.batch))
                self.session.stdin.write(f"{text}\n\\echo ack\n")
                self.session.stdin.flush()
                if self.session.stdout.readline().strip() != "ack":
                    raise RuntimeError(f"writer {self.name}: psql ended: {self.session.stderr.read()[-2000:]}")
                self.done += self.batch
        except Exception as e:  # noqa: BLE001 - reported by wait_for and stop
            self.error = e
        self._idle.set()

    def wait_for(self, more, timeout=120):
        """Waits until `more` transactions more than now are committed."""
        target = self.done + more
        wait_until(f"writer {self.name} commits {more} more", lambda: self.error or self.done >= target, timeout)
        check(self.error is None, f"writer {self.name} failed: {self.error}")

    def pause(self, timeout=60):
        self._wanted.clear()
        check(self._idle.wait(timeout), f"writer {self.name} did not pause")
        check(self.error is None, f"writer {self.name} failed: {self.error}")

    def resume(self):
        self._wanted.set()

    def stop(self):
        self._stopping = True
        self._wanted.set()
        self.thread.join(60)
        self._kill()
        check(self.error is None, f"writer {self.name} failed: {self.error}")

    def _kill(self):
        if self.session.poll() is None:
            self.session.stdin.close()
            try:
                self.session.wait(30)
            except subprocess.TimeoutExpired:
                self.session.kill()


# ---------------------------------------------------------------------------------------------------------
# HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage (case-insensitive)
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError as e:
            raise AssertionError(f"response {self.status} is not JSON ({e}): {self.body[:300]!r}")

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def request(port, method, path, body=None, headers=None, key=None, timeout=HTTP_TIMEOUT):
    """One request to 127.0.0.1:port on a connection of its own. A dict or list body is sent as JSON, a str
    as UTF-8; `key` is sent as a Bearer token."""
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


def exact_request(port, method, path, body=None, headers=None, host="127.0.0.1", timeout=HTTP_TIMEOUT):
    """(status, headers with lower-case names, body) of one request to host:port whose headers are sent exactly
    as given: Host is 127.0.0.1:port unless `headers` names another, and a header given as None is not sent."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        h = {"Host": f"127.0.0.1:{port}"}
        h.update(headers or {})
        for k, v in h.items():
            if v is not None:
                conn.putheader(k, v)
        data = body.encode() if isinstance(body, str) else body
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def call(base, path, method="GET", body=None):
    """(HTTP status, JSON body) of one request to the server at `base` (http://127.0.0.1:PORT); the body of
    an error answer too."""
    r = request(urlsplit(base).port, method, path, body=body if body else None,
                headers={"Content-Type": "application/json"} if body else None)
    return r.status, r.json()


def compare_download(port, job, ref_path, timeout=60):
    """Streams GET /api/export/{job}/download from 127.0.0.1:port and compares it with the reference file
    while it arrives: (200, None), or (status, the start of the body) of any other answer. Raises
    AssertionError when a 200's Content-Length or bytes are not the reference's."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", f"/api/export/{job}/download")
        r = conn.getresponse()
        if r.status != 200:
            return r.status, r.read()[:300]
        length, size = int(r.getheader("Content-Length", "-1")), os.path.getsize(ref_path)
        check(length == size, f"download of {job}: Content-Length {length}, the reference has {size} bytes")
        compare_stream(r.read, ref_path, f"download of {job}")
        return 200, None
    finally:
        conn.close()


def log_events_in(text, name=None):
    """The JSON log lines of `text` (whose event is `name`, when given), as objects."""
    out = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and (name is None or e.get("event") == name):
            out.append(e)
    return out


ENDED = ("completed", "failed", "cancelled")

_servers = []  # every server of this process, for the log tails of a failed case


class server:
    """`pgexport serve` on a free port with its own data directory (or `data_dir`), started at once unless
    start=False, and restartable on the same directory (a fresh port each time unless one is given). Its
    output goes to `<work>/<name>.log`, shared by every start (each opened by a `===== start #N` line).
    `key` is the API key the API helpers send unless told otherwise. `wrap` goes before the command
    (prlimit, setpriv). `ignore_reports`, a regular expression, drops the sanitizer reports whose first
    three lines it finds (a false report the test brings about on purpose). Stopped on exit, its work
    directory removed when the harness made it."""

    def __init__(self, binary_path, url, *args, data_dir=None, name="serve", work=None, key=None, wrap=(),
                 start=True, timeout=30, ignore_reports=None):
        self.binary, self.url, self.args = binary_path, url, list(args)
        self.name = name
        self.own_work = work is None
        self.work = work or tempfile.mkdtemp(prefix="pgexport-e2e-")
        self.data_dir = data_dir or os.path.join(self.work, "exports" if name == "serve" else f"{name}-exports")
        self.log_path = os.path.join(self.work, f"{name}.log")
        self.key = key
        self.wrap = list(wrap)
        self.ignore_reports = re.compile(ignore_reports) if ignore_reports else None
        self.process = None
        self.port = None
        self.starts = 0
        self.not_ready_after_healthy = []  # (start #, response) when the API said 503 after /healthz said 200
        self.problems = []  # bad exits and sanitizer reports not yet reported (main() fails the case with them)
        self._ended_as_asked = False  # the test stopped, killed or awaited the current process
        self._log_scanned = 0  # how far the log was read for sanitizer reports
        _servers.append(self)
        if start:
            try:
                self.start(timeout=timeout)
            except BaseException:
                self.close()
                raise

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, port=None):
        """Starts the process and returns at once."""
        if self.process is not None and not self._ended_as_asked and self.process.poll() is not None:
            self.problems.append(f"server {self.name} {describe_exit(self.process.returncode)} on its own before "
                                 f"start #{self.starts + 1}:\n{self.log_tail()}")
        self._ended_as_asked = False
        self.port = port or free_port()
        command = [*self.wrap, self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--database", self.url,
                   "--data-dir", self.data_dir, *self.args]
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"===== start #{self.starts}: {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.work,
                                            env=server_env())
        return self

    def start(self, port=None, timeout=30):
        """Spawns and waits until it is ready."""
        self.spawn(port)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        """Waits for /healthz 200, then for the API to answer other than 503 (noting in
        not_ready_after_healthy when it did say 503 after /healthz's 200)."""
        deadline = time.monotonic() + timeout
        healthy = False
        while True:
            self.check_alive("while starting")
            try:
                if not healthy:
                    healthy = self.request("GET", "/healthz", timeout=3).status == 200
                if healthy:
                    r = self.request("GET", "/api/records?limit=1", timeout=5)
                    if r.status != 503:
                        return
                    if not self.not_ready_after_healthy or self.not_ready_after_healthy[-1][0] != self.starts:
                        self.not_ready_after_healthy.append((self.starts, r))
            except OSError:
                pass
            if time.monotonic() > deadline:
                what = "an API that is ready" if healthy else "/healthz 200"
                raise AssertionError(f"server {self.name} did not answer with {what} within {timeout} s:\n"
                                     f"{self.log_tail()}")
            time.sleep(0.03)

    def wait_answering(self, timeout=30):
        """Waits for any HTTP answer from /healthz and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive("while starting")
            try:
                return self.request("GET", "/healthz", timeout=3)
            except OSError:
                check(time.monotonic() < deadline, f"server {self.name} did not answer HTTP within {timeout} s")
                time.sleep(0.03)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def check_alive(self, when):
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"server {self.name} {describe_exit(self.process.returncode)} {when}:\n"
                                 f"{self.log_tail()}")

    def send_stop(self):
        """SIGTERM (after SIGCONT: a stopped process would not see it), at once; wait_exit() checks the exit."""
        self._ended_as_asked = True
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout=15, expect=0):
        """Waits until the process ends and returns its exit code. Fails when that is not `expect` (None:
        any code will do, say for a start that must fail), or when it did not end within `timeout` s (it is
        then killed)."""
        self._ended_as_asked = True
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
            raise AssertionError(f"server {self.name} did not exit within {timeout} s (killed):\n{self.log_tail()}")
        if expect is not None and code != expect:
            raise AssertionError(f"server {self.name} {describe_exit(code)}, expected exit {expect}:\n{self.log_tail()}")
        return code

    def stop(self, timeout=15, expect=0):
        """SIGTERM, then wait_exit(timeout, expect): returns the exit code, and fails unless it is `expect`
        (SIGTERM checkpoints the running jobs and exits 0). A process the test already ended is left as it is."""
        if self.process is None:
            return None
        if self._ended_as_asked and self.process.poll() is not None:
            return self.process.returncode
        self.send_stop()
        return self.wait_exit(timeout, expect)

    def kill(self):
        """kill -9, and waits until the process is gone."""
        self._ended_as_asked = True
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def freeze(self, timeout=10):
        """SIGSTOP, and waits until every thread of the process is stopped (nothing it does moves on)."""
        self.check_alive("before SIGSTOP")
        pid = self.process.pid
        self.process.send_signal(signal.SIGSTOP)

        def stopped():
            states = []
            for task in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{task}/stat") as f:
                        stat = f.read()
                    states.append(stat[stat.rindex(")") + 2])
                except (OSError, ValueError):
                    pass  # a thread that has just ended
            return states and all(state in "tT" for state in states)
        wait_until(f"every thread of server {self.name} stopped after SIGSTOP", stopped, timeout, poll=0.001)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        """The last lines of the log, without the access log (one line per request drowns the rest)."""
        text = self.log_text().splitlines()
        return "\n".join([line for line in text if '"event":"http_request"' not in line][-lines:])

    def log_events(self, name=None):
        """The JSON lines of the log (whose event is `name`, when given), as objects."""
        return log_events_in(self.log_text(), name)

    def events_since_start(self, name=None):
        """The log events of the current process."""
        text = self.log_text()
        return log_events_in(text[max(text.rfind("===== start #"), 0):], name)

    # --- the API
    def request(self, method, path, body=None, headers=None, key=None, timeout=HTTP_TIMEOUT):
        return request(self.port, method, path, body, headers, key if key is not None else self.key, timeout)

    def create(self, body=None, key=None):
        """POST /api/export; the job's id (202 or a failure)."""
        r = self.request("POST", "/api/export", {} if body is None else body, key=key)
        check(r.status == 202, f"POST /api/export {body}: expected 202, got {r!r}")
        return r.json()["jobId"]

    def status(self, job, key=None):
        """The job's status (200 or a failure)."""
        r = self.request("GET", f"/api/export/{job}/status", key=key)
        check(r.status == 200, f"status of {job}: {r!r}")
        return r.json()

    def wait_status(self, job, predicate, what, timeout=60, key=None, poll=0.05):
        """Polls the job's status until predicate(status); returns that status."""
        return wait_until(f"job {job}: {what}", lambda: (lambda st: st if predicate(st) else None)(
            self.status(job, key)), timeout, poll)

    def wait_ended(self, job, timeout=60, key=None):
        """Waits until the job is completed, failed or cancelled; returns its status."""
        return self.wait_status(job, lambda st: st["status"] in ENDED, "ends", timeout, key)

    def wait_completed(self, job, timeout=60, key=None):
        """Waits until the job ends, and fails unless it completed; returns its status."""
        st = self.wait_ended(job, timeout, key)
        check(st["status"] == "completed", f"job {job} ended {st['status']}: {st}\n{self.log_tail()}")
        return st

    def jobs(self, key=None):
        r = self.request("GET", "/api/export?limit=1000", key=key)
        check(r.status == 200, f"GET /api/export: {r!r}")
        return r.json()

    def download(self, job, key=None, timeout=120):
        """The job's file as GET .../download sends it (200 or a failure)."""
        r = self.request("GET", f"/api/export/{job}/download", key=key, timeout=timeout)
        check(r.status == 200, f"download of {job}: {r!r}")
        return r.body

    def metric(self, name, labels=""):
        """The value of a sample of /metrics: `name` with `labels` as written there ('{status="queued"}')."""
        r = self.request("GET", "/metrics")
        check(r.status == 200, f"/metrics: {r!r}")
        for line in r.body.decode().splitlines():
            sample, _, value = line.rpartition(" ")
            if sample == name + labels:
                return float(value)
        raise AssertionError(f"/metrics has no {name}{labels}")

    def scan_log(self):
        """Reads the log's lines written since the last scan, and keeps in `problems` any sanitizer report
        among them (with what follows it: the stack)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_scanned)
                text = f.read()
        except OSError:
            return
        text = text[:text.rfind(b"\n") + 1]  # a line being written is read whole the next time
        self._log_scanned += len(text)
        text = text.decode(errors="replace")
        if self.ignore_reports:
            text = self.ignore_reports.sub("", text)
        reports = sanitizer_reports(text)
        if reports:
            lines = [line for line in text[text.find(reports[0]):].splitlines() if '"event":"http_request"' not in line]
            self.problems.append(f"server {self.name}: {len(reports)} sanitizer report line(s) in its log "
                                 f"({self.log_path}):\n" + "\n".join(lines[:120]))

    def take_problems(self):
        """The bad exits and sanitizer reports since the last call (the log scanned first)."""
        self.scan_log()
        problems, self.problems = self.problems, []
        return problems

    def close(self):
        """Stops the process unless the test ended it (SIGTERM: exit 0 expected) and removes the work
        directory the harness made. A bad exit and the log's sanitizer reports are kept in `problems`, which
        main() turns into the failure of the case."""
        if self.process is not None and not self._ended_as_asked:
            try:
                self.stop()
            except AssertionError as e:
                self.problems.append(str(e))
        self.scan_log()
        if self.own_work and not os.environ.get("PGEXPORT_E2E_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()



# ---------------------------------------------------------------------------------------------------------
# Object storage: a local S3-compatible server (s3rver, from the npm registry: tools/test installs it in
# tests/s3rver) and Debian's awscli as the independent client that checks what pgexport stored.

S3RVER = os.path.join(ROOT, "tests", "s3rver", "node_modules", ".bin", "s3rver")
# ---------------------------------------------------------------------------------------------------------
# Notifications

WEBHOOK_VERIFIER = os.path.join(ROOT, "tests", "webhooks", "verify.mjs")


class webhook_receiver:
    """A small HTTP server on 127.0.0.1 that takes notifications (POST) and verifies every one with the
    Standard Webhooks reference library (npm's standardwebhooks in tests/webhooks, through node: not
    pgexport's code), under `secret` (a whsec_ secret, or a callable that gives it: the server's file).

    `answer` is the status to send, or a callable(delivery) -> status. `hold()` makes the next requests wait
    unanswered until `release()` (a try in flight). Each delivery: {"id", "timestamp", "signature", "body",
    "payload" (the verified body, parsed) or "error", "at" (time.time() on arrival), "answered"}. Not started
    at once unless start=True, so that a test can send to its port while nothing listens there."""

    def __init__(self, secret, port=None, answer=200, start=True):
        import threading
        self.secret, self.answer = secret, answer
        self.port = port or free_port()
        self.deliveries = []
        self._lock = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        self._verifier = None
        self._verify_lock = threading.Lock()
        self._server = self._thread = None
        if start:
            self.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self):
        import http.server
        import threading
        receiver = self

        class handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8", "replace")
                d = {"id": self.headers.get("webhook-id"), "timestamp": self.headers.get("webhook-timestamp"),
                     "signature": self.headers.get("webhook-signature"), "body": body, "at": time.time(),
                     "path": self.path, "answered": None}
                d.update(receiver._verify(self.headers, body))
                with receiver._lock:
                    receiver.deliveries.append(d)
                    receiver._lock.notify_all()
                receiver._open.wait()
                status = receiver.answer(d) if callable(receiver.answer) else receiver.answer
                d["answered"] = status
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (killed mid-try)

            def log_message(self, *args):
                pass

        class listener(http.server.ThreadingHTTPServer):
            # socketserver's default backlog is 5: a burst of concurrent deliveries past it loses SYNs, and
            # the sender's TCP retries them a second later (a receiver's artefact that once read as a
            # second of pgexport's webhook latency). A web server's is hundreds.
            request_queue_size = 128

        self._server = listener(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening (the port refuses connections from then on)."""
        self._open.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hold(self):
        self._open.clear()

    def release(self):
        self._open.set()

    def warm_up(self):
        """Starts the verifier (a node process) now, not on the first delivery: a timed run then measures
        the sender, not node's start."""
        self._verify({}, "")

    def _verify(self, headers, body):
        secret = self.secret() if callable(self.secret) else self.secret
        line = json.dumps({"secret": secret, "body": body, "headers": {
            k: headers.get(k) or "" for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}})
        with self._verify_lock:
            if self._verifier is None:
                self._verifier = subprocess.Popen(["node", WEBHOOK_VERIFIER], stdin=subprocess.PIPE,
                                                  stdout=subprocess.PIPE, text=True)
            self._verifier.stdin.write(line + "\n")
            self._verifier.stdin.flush()
            answer = json.loads(self._verifier.stdout.readline())
        return {"payload": answer["payload"]} if answer["ok"] else {"error": answer["error"]}

    def of(self, job=None, event=None):
        """The deliveries (of `job`, for `event`), in arrival order."""
        with self._lock:
            found = list(self.deliveries)
        return [d for d in found if (job is None or (d.get("payload") or {}).get("data", {}).get("jobId") == job)
                and (event is None or (d.get("payload") or {}).get("type") == f"export.{event}")]

    def wait_for(self, what, predicate, timeout=60):
        """Waits until predicate(deliveries) is true; returns the deliveries then."""
        return wait_until(f"the receiver to have {what}", lambda: (lambda ds: ds if predicate(ds) else None)(
            self.of()), timeout)

    def close(self):
        self.stop()
        if self._verifier is not None:
            self._verifier.stdin.close()
            self._verifier.wait(10)
            self._verifier = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}


class s3_server:
    """s3rver on a free loopback port with a directory of its own and one bucket. kill() and start() keep
    the port and the directory (objects and unfinished uploads survive); freeze()/thaw() stop it in place;
    removed on exit. Its credentials are S3_CREDENTIALS (put them in os.environ for a server to use)."""

    def __init__(self, bucket="exports", work=None):
        self.bucket = bucket
        self.dir = tempfile.mkdtemp(prefix="pgexport-s3-", dir=work)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = None
        _resources.append(self.close)
        self.start()

    def start(self, timeout=30):
        if not os.path.exists(S3RVER):
            raise RuntimeError(f"{S3RVER} is missing: npm ci in tests/s3rver (tools/test does it)")
        self.process = subprocess.Popen([S3RVER, "--silent", "--address", "127.0.0.1", "--port", str(self.port),
                                         "--directory", self.dir, "--configure-bucket", self.bucket],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            check(self.process.poll() is None, f"s3rver exited {self.process.returncode} at start")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until("s3rver listening", listening, timeout, poll=0.05)
        return self

    def kill(self):
        """SIGKILL (a frozen process too), and waits until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def freeze(self):
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def aws(self, *args):
        """`aws s3api ARGS` against this server: its JSON answer (None when it prints nothing). Raises
        subprocess.CalledProcessError (with aws's error text in stderr) when aws fails."""
        aws = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else "aws"
        out = subprocess.run([aws, "s3api", *args, "--endpoint-url", self.endpoint, "--output", "json"],
                             env=dict(os.environ, **S3_CREDENTIALS), capture_output=True, check=True,
                             timeout=60).stdout
        return json.loads(out) if out.strip() else None

    def get_object(self, key):
        """The object's bytes, as awscli reads them."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "object")
            self.aws("get-object", "--bucket", self.bucket, "--key", key, path)
            with open(path, "rb") as f:
                return f.read()

    def exists(self, key):
        try:
            self.aws("head-object", "--bucket", self.bucket, "--key", key)
            return True
        except subprocess.CalledProcessError as e:
            if b"404" in e.stderr or b"Not Found" in e.stderr:
                return False
            raise

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------------------
# A network path the test controls

class tcp_proxy:
    """A TCP proxy on a free loopback port to `host:port` (a PostgreSQL server, say), so that a test can cut
    one process off from a server while others still reach it. cut(): every connection through it is
    closed and new ones are refused (closed at once), as when a firewall rule or a switch port drops the
    path; restore(): connections go through again. `url(admin_url)` is that URL through the proxy."""

    def __init__(self, host, port):
        import threading
        self.target = (host, int(port))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = None
        for _ in range(100):
            try:
                candidate = free_port()
                self.listener.bind(("127.0.0.1", candidate))
                self.port = candidate
                break
            except OSError:
                continue
        if self.port is None:
            raise RuntimeError("tcp_proxy: no free port")
        self.listener.listen(64)
        self.lock = threading.Lock()
        self.open = True
        self.closed = False
        self.pairs = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @classmethod
    def to_url(cls, url):
        """A proxy to the server of libpq URL `url`."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5432)

    def url(self, url):
        """`url` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit((parts.scheme, f"{userinfo}127.0.0.1:{self.port}", parts.path, parts.query,
                           parts.fragment))

    def _accept(self):
        import threading
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                passing = self.open and not self.closed
                self.accepted += 1
            if not passing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self.lock:
                self.pairs.append(pair)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair):
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            if pair in self.pairs:
                self.pairs.remove(pair)

    def cut(self):
        with self.lock:
            self.open = False
            pairs = list(self.pairs)
        for pair in pairs:
            self._drop(pair)

    def restore(self):
        with self.lock:
            self.open = True

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

# ---------------------------------------------------------------------------------------------------------
# Independent validators of what the server describes: the OpenAPI document (@apidevtools/swagger-parser,
# from the npm registry: tools/test installs it in tests/openapi) and the /metrics text (Prometheus's own
# parser, `promtool check metrics` of Debian's prometheus package, which tools/test installs).

OPENAPI_VALIDATOR = os.path.join(ROOT, "tests", "openapi", "validate.mjs")


def check_openapi(document, what="the OpenAPI document"):
    """Fails unless swagger-parser finds `document` (bytes) a valid OpenAPI document; returns its verdict."""
    check(os.path.isdir(os.path.join(ROOT, "tests", "openapi", "node_modules")),
          "tests/openapi/node_modules is missing: npm ci in tests/openapi (tools/test does it)")
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(document)
        f.flush()
        p = subprocess.run(["node", OPENAPI_VALIDATOR, f.name], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"{what} is not valid OpenAPI (swagger-parser):\n{p.stdout}{p.stderr[:6000]}")
    return p.stdout.strip()


def check_prometheus_text(text, what="/metrics"):
    """Fails unless `promtool check metrics` takes `text` (bytes) without an error or a lint problem."""
    promtool = shutil.which("promtool")
    check(promtool, "promtool is missing: Debian's prometheus package (tools/test installs it)")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace")
    check(p.returncode == 0 and not out.strip(), f"promtool check metrics on {what} (exit {p.returncode}):\n{out[:6000]}")


# ---------------------------------------------------------------------------------------------------------
# Running a suite

class _in_written_order(unittest.TestLoader):
    """Test classes and their cases in the order the suite writes them (unittest's own sorts by name): a
    suite reads top to bottom, and cases on one server run in the order that suite chose."""

    def getTestCaseNames(self, test_case_class):
        names = super().getTestCaseNames(test_case_class)
        order = {}
        for klass in reversed(test_case_class.__mro__):
            for n in vars(klass):
                order.setdefault(n, len(order))
        return sorted(names, key=lambda n: order.get(n, len(order)))

    def loadTestsFromModule(self, module, *args, pattern=None, **kws):
        return self.suiteClass([self.loadTestsFromTestCase(c) for c in vars(module).values()
                                if isinstance(c, type) and issubclass(c, unittest.TestCase)
                                and c.__module__ == module.__name__])


def _check_servers():
    """Fails with every server's bad exits and sanitizer reports not yet reported (a cleanup of each case,
    run after the case's own)."""
    problems = [p for s in _servers for p in s.take_problems()]
    if problems:
        raise AssertionError("\n\n".join(problems))


class _result(unittest.TextTestResult):
    """Checks the servers after each case (_check_servers), and prints, after a failed case, the log tails
    of the servers it started or found running."""

    def startTest(self, test):
        self._first_server = len(_servers)
        super().startTest(test)
        test.addCleanup(_check_servers)  # the first cleanup added runs last: after the case closed its servers
        self.stream.writeln()  # what the case prints goes on lines of its own
        self.stream.flush()

    def _show_logs(self):
        shown = [s for i, s in enumerate(_servers) if i >= self._first_server or s.alive()]
        for s in shown:
            self.stream.writeln(f"----- last lines of server {s.name}'s log ({s.log_path}):")
            self.stream.writeln(s.log_tail(30))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._show_logs()

    def addError(self, test, err):
        super().addError(test, err)
        self._show_logs()


class terminated(KeyboardInterrupt):
    """SIGTERM, raised in the running case: only a KeyboardInterrupt gets through unittest's handlers (any
    other exception, SystemExit too, would be recorded as that case's error and the run would go on)."""


def _on_sigterm(*_):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the clean-up short
    raise terminated()


def _clean_up_after_interrupt():
    """What an interrupted run leaves: servers, the class and module fixtures unittest did not tear down
    (scratch databases, work directories), clusters, standbys and s3rver."""
    for s in _servers:
        if s.alive():
            terminate(s.process, timeout=5)
    steps = [c.doClassCleanups for c in vars(sys.modules["__main__"]).values()
             if isinstance(c, type) and issubclass(c, unittest.TestCase)]
    steps += [unittest.case.doModuleCleanups, *reversed(_resources)]
    for step in steps:
        try:
            step()
        except Exception as e:  # noqa: BLE001 - clean up the rest regardless
            print(f"clean-up: {e}", flush=True)


def _case_id(test):
    """The id of the case a result is about: a subTest's is its case's."""
    return test.test_case.id() if isinstance(test, unittest.case._SubTest) else test.id()


def main():
    """Runs the calling suite's TestCase classes: `suite.py <pgexport binary> [unittest arguments]` (-k
    PATTERN picks cases). One line per case; exit 1 when any failed, erred or was skipped, or when a server
    exited badly or reported a sanitizer error after the cases (in a class or module fixture)."""
    binary()  # usage, before anything starts
    signal.signal(signal.SIGTERM, _on_sigterm)  # ctest's timeout, tools/test stopped: clean up and exit
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_result)
    try:
        program = unittest.main(module="__main__", argv=[sys.argv[0], *sys.argv[2:]], testLoader=_in_written_order(),
                                testRunner=runner, exit=False)
        for s in _servers:
            s.close()
    except KeyboardInterrupt as e:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"\n{'SIGTERM' if isinstance(e, terminated) else 'interrupted'}: cleaning up", flush=True)
        _clean_up_after_interrupt()
        sys.exit(143 if isinstance(e, terminated) else 130)
    result = program.result
    late = [p for s in _servers for p in s.take_problems()]
    for p in late:
        print(f"FAIL after the cases (a class or module fixture's server):\n{p}\n", flush=True)
    if result.skipped:
        print(f"{len(result.skipped)} skipped: a skipped case is not a pass", flush=True)
    problems = [t for t, _ in result.failures + result.errors + result.skipped] + list(result.unexpectedSuccesses)
    # Counted by case: a case with three failed subTests is one failed case. A class or module fixture that
    # failed is a problem of no case: it takes no case from the passed ones.
    failed_cases = {_case_id(t) for t in problems if isinstance(t, unittest.TestCase)}
    failed = len(failed_cases) + len({t.id() for t in problems if not isinstance(t, unittest.TestCase)}) + len(late)
    passed = result.testsRun - len(failed_cases)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed or result.testsRun == 0 else 0)
