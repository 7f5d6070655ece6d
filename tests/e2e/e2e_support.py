"""Shared by the end-to-end scripts: a scratch database next to the admin URL that tools/test hands
over, a `pgexport serve` process on a free port, and PostgreSQL's own COPY as the reference."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The session settings of the contract's reference COPY.
PSQL_ENV = dict(os.environ, PGTZ="UTC", PGDATESTYLE="ISO, MDY", PGOPTIONS="-c extra_float_digits=3",
                PGCLIENTENCODING="UTF8")


class test_runner:
    """Runs a script's tests one by one: `--- name`, then `ok` or the traceback; counts them."""

    def __init__(self):
        self.passed = self.failed = 0

    def run(self, fn, *args):
        print(f"--- {fn.__name__}", flush=True)
        try:
            fn(*args)
            self.passed += 1
            print("    ok", flush=True)
        except Exception:  # noqa: BLE001 - any failure is the test's, reported and counted
            self.failed += 1
            traceback.print_exc(file=sys.stdout)

    def summary(self):
        """Prints `N passed, M failed`; the exit status: 1 when any failed."""
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def check(ok, what):
    if not ok:
        raise AssertionError(what)


def call(base, path, method="GET", body=None):
    """(HTTP status, JSON body) of one request to the server at `base`; the body of an error answer too."""
    req = urllib.request.Request(base + path, method=method, data=body.encode() if body else None,
                                 headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_until(what, predicate, timeout, poll=0.02):
    """Polls predicate() until it returns something true, and returns that; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        check(time.monotonic() < deadline, f"{what}: not within {timeout} s")
        time.sleep(poll)


def admin_url():
    url = os.environ.get("PGEXPORT_TEST_DATABASE_URL")
    if not url:
        raise SystemExit("PGEXPORT_TEST_DATABASE_URL is not set: run through tools/test")
    return url


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url, sql):
    """Runs sql and returns stdout as bytes (unaligned, tuples only)."""
    return subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                          env=PSQL_ENV, capture_output=True, timeout=120).stdout


def copy_csv(url, select):
    """What PostgreSQL writes for COPY (select) TO STDOUT WITH (FORMAT csv, HEADER true)."""
    return psql(url, f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER true)")


@contextlib.contextmanager
def scratch_database(prefix):
    """A database of its own, dropped afterwards (with its connections), also on failure."""
    admin = admin_url()
    name = f"{prefix}_{os.getpid()}"
    parts = urlsplit(admin)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin, f"CREATE DATABASE {name}")
    try:
        yield url
    finally:
        try:
            psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except subprocess.CalledProcessError:
            pass


class server:
    """`pgexport serve` on a free port with its own data directory (or `data_dir`); stopped and removed on
    exit (a `data_dir` given is left alone)."""

    def __init__(self, binary, url, *args, data_dir=None):
        self.work = tempfile.mkdtemp(prefix="pgexport-e2e-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or os.path.join(self.work, "exports")
        self.log_path = os.path.join(self.work, "serve.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--database", url,
                                         "--data-dir", self.data_dir, *args],
                                        stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while True:
            try:
                if urllib.request.urlopen(self.base + "/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("the server did not become ready in 30 s:\n" + self.log_tail())
            time.sleep(0.05)

    def log_tail(self, chars=4000):
        self.log.flush()
        return open(self.log_path, encoding="utf-8", errors="replace").read()[-chars:]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)


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
        deadline = time.monotonic() + timeout
        while gate_waiters(self.url) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing reached the gate within {timeout} s")
            time.sleep(0.02)

    def release(self):
        if self.session.poll() is None:
            self.session.stdin.write("\\q\n")
            self.session.stdin.close()
            self.session.wait(30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class private_cluster:
    """A PostgreSQL cluster of its own through tools/pg (own directory under /tmp and port), so that a test
    can stop and start it at will; destroyed on exit."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix=f"pgexport-{name}-pg-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.env = dict(os.environ, PGEXPORT_PG_DIR=self.dir, PGEXPORT_PG_PORT=str(free_port()),
                        PGEXPORT_PG_DB=name)
        self.url = self._tool("start").splitlines()[-1].strip()

    def _tool(self, command):
        p = subprocess.run([os.path.join(ROOT, "tools", "pg"), command], env=self.env, capture_output=True,
                           text=True, timeout=180)
        if p.returncode != 0:
            raise RuntimeError(f"tools/pg {command} failed ({p.returncode}): {p.stderr.strip()}")
        return p.stdout.strip()

    def stop(self):
        self._tool("stop")

    def start(self):
        self._tool("start")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run([os.path.join(ROOT, "tools", "pg"), "destroy"], env=self.env, capture_output=True,
                       timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)

