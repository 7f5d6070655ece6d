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



def _pg_bindir():
    """PostgreSQL's server programs (pg_basebackup, pg_ctl), outside PATH on Debian."""
    for d in (subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(),
              "/usr/lib/postgresql/15/bin"):
        if d and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    raise RuntimeError("PostgreSQL's server programs not found (pg_config --bindir, /usr/lib/postgresql/15/bin)")


class streaming_standby:
    """A hot standby of the cluster at `primary_url`, made with `pg_basebackup -R` (streaming replication,
    primary_conninfo written by pg_basebackup), in a directory and on a port of its own; `url` reaches the
    same database on it. stop() and start() at will; destroyed on exit, also on failure. The primary must
    accept replication connections from 127.0.0.1 (initdb's pg_hba does; wal_level replica is the
    default)."""

    def __init__(self, primary_url, name="standby"):
        self.dir = tempfile.mkdtemp(prefix=f"pgexport-{name}-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.bindir = _pg_bindir()
        parts = urlsplit(primary_url)
        netloc = parts.netloc.rsplit(":", 1)[0] + f":{self.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
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
        """Runs a server program as the cluster's owner (postgres refuses root)."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        p = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"{os.path.basename(command[0])} failed ({p.returncode}): {p.stderr.strip()}"
                               + self.log_tail())
        return p.stdout

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
# A local S3-compatible server (s3rver, from the npm registry: tools/test installs it in tests/s3rver) and
# Debian's awscli as the independent client that checks what pgexport stored.

S3RVER = os.path.join(ROOT, "tests", "s3rver", "node_modules", ".bin", "s3rver")
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}


class s3_server:
    """s3rver on a free loopback port with a directory of its own and one bucket. stop() and start() keep
    the port and the directory (the objects and unfinished uploads survive); removed on exit."""

    def __init__(self, bucket="exports"):
        self.bucket = bucket
        self.dir = tempfile.mkdtemp(prefix="pgexport-s3-")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, **S3_CREDENTIALS)
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([S3RVER, "--silent", "--address", "127.0.0.1", "--port", str(self.port),
                                         "--directory", self.dir, "--configure-bucket", self.bucket],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until("s3rver listening", listening, 30, poll=0.05)

    def stop(self):
        """Kills it (a stopped process included: SIGKILL needs no SIGCONT)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def aws(self, *args):
        """`aws s3api ARGS` against this server; its JSON answer (None when it prints nothing). Raises
        subprocess.CalledProcessError with the error text when aws fails."""
        aws = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else "aws"
        out = subprocess.run([aws, "s3api", *args, "--endpoint-url", self.endpoint, "--output", "json"],
                             env=self.env, capture_output=True, check=True, timeout=60).stdout
        return json.loads(out) if out.strip() else None

    def get_object(self, key):
        """The object's bytes, read by awscli."""
        with tempfile.NamedTemporaryFile() as f:
            self.aws("get-object", "--bucket", self.bucket, "--key", key, f.name)
            with open(f.name, "rb") as stored:
                return stored.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
