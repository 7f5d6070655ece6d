#!/usr/bin/env python3
"""End-to-end tests of pgexport's HTTP API: the real `pgexport serve` process against a real database.

    PGEXPORT_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:PORT/db python3 tests/e2e/http_api.py build/pgexport

The script creates its own database next to the one in the URL (dropped at the end, also on failure),
seeds it, starts servers on free ports with their own data directories, and checks the contract in
/work/shared/CONTRACT.md: jobs, status, downloads byte for byte against PostgreSQL's own COPY, Range,
cancellation, listing, errors for hostile input, API keys, metrics, the records listing and resuming
after SIGTERM. It prints one line per test and ends with `N passed, M failed`; exit 1 when any failed. No
case is skipped: one that cannot set up its situation fails and says why.

A job that must be caught unfinished (a download that must get 409, a queued or a running job to cancel,
SIGTERM in mid-export) runs on server g, which exports the harness's gated view of records: the test holds
the gate closed, so the job waits at a known point (the gate's waiters prove it) instead of the test hoping
that the machine is slow enough. The view's rows are records' rows, so its files compare to COPY of records.

Set PGEXPORT_E2E_KEEP=1 to keep the servers' logs and data directories. Only the standard library is used. Servers share one database, and every server resumes the database's
unfinished jobs when it starts, so a new server is started only once no job is queued or running.
"""

import datetime
import decimal
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness
from harness import (HTTP_TIMEOUT, binary, check, check_same_bytes, gate_waiters, held_gate, install_gate, main, psql,
                     scratch_database, seed, server, wait_until)

# ---------------------------------------------------------------------------------------------------------
# Set-up

BINARY = binary()
DB_URL = None  # the suite's database (setUpModule)
TMP = tempfile.mkdtemp(prefix="pgexport-e2e-")

# Server g exports this view of records (the harness's gate): a test holds the gate closed to keep a job
# running at a known point, and the view's rows are records' rows, so its files compare to COPY of records.
GATED_VIEW = "records_gated"


def sql_value(sql):
    return harness.sql_value(DB_URL, sql)


def copy_csv(select_sql):
    """What PostgreSQL itself writes for COPY (select_sql) TO STDOUT (FORMAT csv, HEADER true)."""
    return harness.copy_csv(DB_URL, select_sql)


def instance(name, chunk_rows=1000, api_keys=(), extra_args=()):
    """One `pgexport serve` process of the suite, not started yet. Servers on one database are instances of
    one service: they share the data directory, since any of them may run (and another serve) a job of
    their table."""
    keys = [arg for k in api_keys for arg in ("--api-key", k)]
    return server(BINARY, DB_URL, "--chunk-rows", str(chunk_rows), *keys, *extra_args, name=name, work=TMP,
                  data_dir=os.path.join(TMP, "data"), key=api_keys[0] if api_keys else None, start=False)


# ---------------------------------------------------------------------------------------------------------
# HTTP helpers


def request(server, method, path, body=None, headers=None, key=None, timeout=HTTP_TIMEOUT):
    """One request to `server`, with `key` only when given (not the server's own)."""
    return harness.request(server.port, method, path, body, headers, key, timeout)


def complete_response(raw):
    """Whether raw starts with a whole response that has a Content-Length (its header and all its body)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length:[ \t]*(\d+)", head, re.I)
    return bool(sep and m and len(body) >= int(m.group(1)))


def raw_exchange(port, data, timeout=10, chunk=65536, half_close=False, first_response=False):
    """Sends bytes on a fresh connection (in a thread, so a server that answers early is still heard) and
    returns everything the server sends until it closes or `timeout` passes. Raises TimeoutError on a hang.
    half_close: shut down the sending side after the bytes (the client says it has nothing more to send).
    first_response: return as soon as one whole response is in (a request the server accepts as valid
    leaves the connection open for the next one)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send():
        try:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may stop reading once it has answered

    t = threading.Thread(target=send, daemon=True)
    t.start()
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no end of response within {timeout} s; got {out[:200]!r}")
            s.settimeout(left)
            try:
                b = s.recv(65536)
            except socket.timeout:
                raise TimeoutError(f"no end of response within {timeout} s; got {out[:200]!r}")
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
            if first_response and complete_response(out):
                break
    finally:
        s.close()
        t.join(2)
    return out


def parse_raw_response(raw):
    """(status, {header: value}, body) from raw bytes of one response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        raise AssertionError(f"not an HTTP response: {raw[:200]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, body


# ---------------------------------------------------------------------------------------------------------
# Assertions


def check_error(resp, status=None, what=""):
    """A 4xx (or exactly `status`) with the contract's {"error": {"code", "message"}} body."""
    prefix = f"{what}: " if what else ""
    if status is not None:
        check(resp.status == status, f"{prefix}expected {status}, got {resp.status}: {resp.body[:300]!r}")
    else:
        check(400 <= resp.status < 500, f"{prefix}expected a 4xx, got {resp.status}: {resp.body[:300]!r}")
    ctype = resp.header("Content-Type") or ""
    check(ctype.startswith("application/json"), f"{prefix}error Content-Type is {ctype!r}")
    body = resp.json()
    check(isinstance(body, dict) and isinstance(body.get("error"), dict), f"{prefix}error body shape: {body!r}")
    code, message = body["error"].get("code"), body["error"].get("message")
    check(isinstance(code, str) and re.fullmatch(r"[a-z][a-z0-9_]*", code or ""),
          f"{prefix}error.code is not snake_case text: {code!r}")
    check(isinstance(message, str) and message, f"{prefix}error.message is empty: {message!r}")
    return code


def check_raw_error(raw, status, what):
    """One complete HTTP response with `status` (an int, or a tuple of allowed ones) and the contract's
    JSON error body; returns the error code."""
    check(raw, f"{what}: the server closed the connection without any answer")
    st, headers, body = parse_raw_response(raw)
    allowed = status if isinstance(status, tuple) else (status,)
    check(st in allowed, f"{what}: expected {' or '.join(map(str, allowed))}, got {st}: {raw[:300]!r}")
    check(headers.get("content-type", "").startswith("application/json"), f"{what}: Content-Type {headers}")
    n = int(headers.get("content-length", "-1"))
    check(n >= 0 and len(body) >= n, f"{what}: the answer has no Content-Length or is cut short: {raw[:300]!r}")
    body = body[:n]
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        raise AssertionError(f"{what}: the error body is not a JSON object: {body[:300]!r}")
    check(isinstance(err, dict) and isinstance(err.get("code"), str) and re.fullmatch(r"[a-z][a-z0-9_]*", err["code"])
          and isinstance(err.get("message"), str) and err["message"],
          f"{what}: error body {body[:300]!r}")
    return err["code"]


ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------------------------------------------------
# Job helpers


def create_job(server, req, key=None):
    r = request(server, "POST", "/api/export", req, key=key)
    check(r.status == 202, f"POST /api/export {json.dumps(req)[:200]}: expected 202, got {r}")
    job_id = r.json().get("jobId")
    check(isinstance(job_id, str) and str(uuid.UUID(job_id)) == job_id.lower(), f"jobId is not a UUID: {job_id!r}")
    loc = r.header("Location")
    check(loc == f"/api/export/{job_id}/status", f"Location header is {loc!r}")
    return job_id


def status(server, job_id, key=None):
    r = request(server, "GET", f"/api/export/{job_id}/status", key=key)
    check(r.status == 200, f"status of {job_id}: {r}")
    return r.json()


STUCK = []  # jobs that did not finish in time: once one is stuck, later waits are short (bounded run time)


def wait_job(server, job_id, key=None, timeout=30, until=("completed", "failed", "cancelled")):
    if STUCK:
        timeout = min(timeout, 5)
    deadline = time.monotonic() + timeout
    while True:
        st = status(server, job_id, key)
        if st["status"] in until:
            return st
        if time.monotonic() > deadline:
            STUCK.append(job_id)
            raise AssertionError(f"job {job_id} still {st['status']} after {timeout} s: {st}")
        time.sleep(0.05)


def wait_quiescent(server, timeout=30):
    """Waits until no job in the database is queued or running (a new server would take them up). Jobs
    still unfinished after `timeout` are cancelled through `server`, and an error reports them."""
    timeout = 5 if STUCK else timeout
    deadline = time.monotonic() + timeout
    while True:
        ids = sql_value("SELECT id FROM export_jobs WHERE status IN ('queued', 'running')").split()
        if not ids:
            return
        if time.monotonic() > deadline:
            for job_id in ids:
                request(server, "DELETE", f"/api/export/{job_id}")
            raise RuntimeError(f"{len(ids)} job(s) still queued or running after {timeout} s (now cancelled)")
        time.sleep(0.1)


def metric(server, name):
    """The value of an unlabelled gauge or counter in the server's /metrics."""
    return int(server.metric(name))


def wait_engine_idle(server, timeout=30):
    """Waits until the server runs no job and none of its table's jobs is queued or running: every job
    coroutine has ended, so nothing can still write a file or change a status."""
    deadline = time.monotonic() + timeout
    while True:
        running = metric(server, "pgexport_jobs_running_here")
        waiting = sum(metric(server, f'pgexport_jobs{{status="{s}"}}') for s in ("queued", "running"))
        if running == 0 and waiting == 0:
            return
        check(time.monotonic() < deadline, f"server {server.name} still runs {running} and queues {waiting} "
                                           f"job(s) after {timeout} s")
        time.sleep(0.05)


def active_copies(view=GATED_VIEW):
    """The COPY statements of `view` that a backend of the test database is running now."""
    return int(sql_value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                         f" AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE 'COPY%{view}%'"))


def gate_set_up(g, open_below):
    """The start of a gated test: no job of an earlier test still runs on g (a failed test may leave some;
    they finish once the gate is open), nothing waits at the gate, and the gate lets `open_below` rows by."""
    wait_engine_idle(g)
    wait_until("nothing waits at the gate", lambda: gate_waiters(DB_URL) == 0)
    install_gate(DB_URL, view=GATED_VIEW, open_below=open_below)


def download(server, job_id, key=None, headers=None, method="GET"):
    return request(server, method, f"/api/export/{job_id}/download", key=key, headers=headers)


def check_download_headers(r, job_id, size):
    check(r.header("Content-Length") == str(size), f"Content-Length {r.header('Content-Length')!r}, file is {size}")
    cd = r.header("Content-Disposition")
    check(cd == f'attachment; filename="export-{job_id}.csv"', f"Content-Disposition is {cd!r}")
    check(r.header("Accept-Ranges") == "bytes", f"Accept-Ranges is {r.header('Accept-Ranges')!r}")
    ct = r.header("Content-Type") or ""
    check(ct.split(";")[0].strip() == "text/csv", f"Content-Type is {ct!r}")


def export_and_compare(server, req, where_sql, columns_sql, key=None):
    """Creates a job, waits, checks its status fields and the download against COPY; returns (id, bytes)."""
    job_id = create_job(server, req, key)
    st = wait_job(server, job_id, key)
    check(st["status"] == "completed", f"job {job_id} ended {st['status']}: {st}")
    expected = copy_csv(f"SELECT {columns_sql} FROM records WHERE {where_sql} ORDER BY id")
    rows = int(sql_value(f"SELECT count(*) FROM records WHERE {where_sql}"))
    r = download(server, job_id, key)
    check(r.status == 200, f"download: {r}")
    check_download_headers(r, job_id, len(r.body))
    check_same_bytes(r.body, expected, f"download of {json.dumps(req)[:120]}")

    check(st["jobId"] == job_id, f"status jobId {st['jobId']!r}")
    check(st["rowsExported"] == rows, f"rowsExported {st['rowsExported']} != {rows} rows")
    check(st["bytesWritten"] == len(r.body), f"bytesWritten {st['bytesWritten']} != file size {len(r.body)}")
    check(st["downloadUrl"] == f"/api/export/{job_id}/download", f"downloadUrl {st['downloadUrl']!r}")
    check(isinstance(st["filePath"], str) and st["filePath"], f"filePath {st['filePath']!r}")
    # filePath is the file's name in the data directory (TMP/data): no server path is shown to a client.
    check(not os.path.isabs(st["filePath"]) and "/" not in st["filePath"], f"filePath {st['filePath']!r} shows a path")
    path = os.path.join(server.data_dir, st["filePath"])
    check(os.path.isfile(path), f"filePath {st['filePath']!r}: no file at {path}")
    with open(path, "rb") as f:
        check(f.read() == r.body, f"the file at filePath {path} differs from the download")
    for field in ("createdAt", "startedAt", "finishedAt"):
        check(isinstance(st[field], str) and ISO_RE.match(st[field]) and st[field].endswith("Z"),
              f"{field} is {st[field]!r}, not an ISO 8601 UTC time ending in Z")
    when = {f: datetime.datetime.fromisoformat(st[f].replace("Z", "+00:00")) for f in ("createdAt", "startedAt", "finishedAt")}
    check(when["createdAt"] <= when["startedAt"] <= when["finishedAt"],
          f"timestamps out of order: {st['createdAt']} {st['startedAt']} {st['finishedAt']}")
    check(st["error"] is None, f"error is {st['error']!r}")
    # The default retention: the file is deleted 7 days after the job finished.
    check(isinstance(st["expiresAt"], str) and ISO_RE.match(st["expiresAt"]), f"expiresAt is {st['expiresAt']!r}")
    lasts = (datetime.datetime.fromisoformat(st["expiresAt"].replace("Z", "+00:00")) -
             datetime.datetime.fromisoformat(st["finishedAt"].replace("Z", "+00:00")))
    check(lasts == datetime.timedelta(days=7), f"expiresAt {st['expiresAt']} is not finishedAt + 7 days")
    check(is_int(st["lastProcessedId"]), f"lastProcessedId is {st['lastProcessedId']!r}")
    check(st["totalRowsEstimate"] is None or is_int(st["totalRowsEstimate"]),
          f"totalRowsEstimate is {st['totalRowsEstimate']!r}")
    return job_id, r.body


# ---------------------------------------------------------------------------------------------------------
# Tests

ALL_COLUMNS = "id, category, created_at, name, email, amount, status, description"
SHARED = {}  # results other tests reuse (the all-rows job)


def all_rows_job(a):
    if "all" not in SHARED:
        job_id = create_job(a, {})
        check(wait_job(a, job_id)["status"] == "completed", "the all-rows job did not complete")
        SHARED["all"] = (job_id, download(a, job_id).body)
    return SHARED["all"]


def all_rows_csv():
    if "all_csv" not in SHARED:
        SHARED["all_csv"] = copy_csv(f"SELECT {ALL_COLUMNS} FROM records ORDER BY id")
    return SHARED["all_csv"]


def check_not_ready(server, job_id, state):
    """The job is `state` (queued or running) now, and its download, GET and HEAD, is 409."""
    st = status(server, job_id)
    check(st["status"] == state, f"job {job_id} should be {state} (held at the gate), is {st['status']}: {st}")
    check(st["downloadUrl"] is None, f"the {state} job offers a download: {st}")
    code = check_error(download(server, job_id), 409, f"download of the {state} job")
    check(code == "not_ready", f"download of the {state} job: error code {code!r}")
    r = download(server, job_id, method="HEAD")
    check(r.status == 409 and r.body == b"", f"HEAD download of the {state} job: {r}")


def files_of(server, job_id):
    try:
        return [n for n in os.listdir(server.data_dir) if job_id in n]
    except FileNotFoundError:
        return []


def check_cancelled_stays(server, job_id):
    """Call once the server has let go of the job (wait_engine_idle): it is cancelled for good, without a
    file or a download. (A DELETE now would delete it: check_deleted.)"""
    st = status(server, job_id)
    check(st["status"] == "cancelled", f"cancelled job {job_id} is now {st['status']}")
    check(st["downloadUrl"] is None and st["filePath"] is None, f"cancelled job still offers a file: {st}")
    check(st["finishedAt"] is not None, "a cancelled job has no finishedAt")
    check(st["expiresAt"] is not None and st["expiresAt"] > st["finishedAt"],
          f"a cancelled job's expiresAt (when it is forgotten) is {st['expiresAt']!r}")
    stored = sql_value(f"SELECT status FROM export_jobs WHERE id = '{job_id}'")
    check(stored == "cancelled", f"the job store says {stored!r} for cancelled job {job_id}")
    r = download(server, job_id)
    check_error(r, 409, "download of a cancelled job")
    left = files_of(server, job_id)
    check(not left, f"cancelled job {job_id} left files in the data directory: {left}")
    return st


def check_deleted(server, job_id, what):
    """DELETE of an ended job: 204 without a body; then the job, its file and its record are gone."""
    r = request(server, "DELETE", f"/api/export/{job_id}")
    check(r.status == 204 and r.body == b"", f"DELETE of a {what} job: {r}")
    check_error(request(server, "GET", f"/api/export/{job_id}/status"), 404, f"status of a deleted {what} job")
    check_error(download(server, job_id), 404, f"download of a deleted {what} job")
    check_error(request(server, "DELETE", f"/api/export/{job_id}"), 404, f"a second DELETE of a {what} job")
    left = files_of(server, job_id)
    check(not left, f"the deleted {what} job {job_id} left files in the data directory: {left}")
    stored = sql_value(f"SELECT count(*) FROM export_jobs WHERE id = '{job_id}'")
    check(stored == "0", f"the deleted {what} job {job_id} is still in the job store")


def check_cancel_answer(r, job_id, what):
    check(r.status == 200, f"DELETE of a {what} job: {r}")
    body = r.json()
    check(body.get("jobId") == job_id and body.get("status") == "cancelled", f"DELETE answer: {body}")


def post_raw(server, body, content_type="application/json"):
    return request(server, "POST", "/api/export", body=body, headers={"Content-Type": content_type})


# Bytes that are not a valid HTTP/1.1 request. Each must get a 4xx with the JSON error body: the
# connection may close after it, but never without an answer. (name, bytes, allowed statuses, half_close)
GARBAGE = [
    ("binary junk", b"\x00\xff garbage\r\n\r\n", (400,), False),
    ("every byte value", bytes(range(256)) * 4, (400,), False),
    ("HTTP/9.9", b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n", (400,), False),
    ("no HTTP version", b"GET /healthz\r\n\r\n", (400,), False),
    ("space in the target", b"GET /heal thz HTTP/1.1\r\nHost: localhost\r\n\r\n", (400,), False),
    ("header without a colon", b"GET /healthz HTTP/1.1\r\nHost t\r\n\r\n", (400,), False),
    ("space before the colon", b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n", (400,), False),
    ("NUL in a header value", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n", (400,), False),
    ("CR alone in a header", b"GET /healthz HTTP/1.1\r\nHost: localhost\rX-A: b\r\n\r\n", (400,), False),
    ("Content-Length -1", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", (400,), False),
    ("Content-Length not a number", b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1x\r\n\r\n{",
     (400,), False),
    ("two different Content-Lengths",
     b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", (400,), False),
    ("Content-Length beyond 64 bits",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999\r\n\r\n{}", (400, 413), False),
    ("Transfer-Encoding and Content-Length",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
     (400,), False),
    ("a chunk size that is not hex",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", (400,), False),
    ("a chunk size beyond 64 bits",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nx\r\n",
     (400, 413), False),
    # The body's length cannot be known (RFC 9112 6.3: the server must answer 400 and close). Read as
    # bodiless, the request would create an export and its body would be taken for the next request.
    ("a transfer coding other than chunked",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n{}", (400,), True),
    ("a bad character in a header name", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX(A): b\r\n\r\n", (400,), False),
    ("a raw non-ASCII byte in the target", b"GET /\xff HTTP/1.1\r\nHost: localhost\r\n\r\n", (400, 404), False),
    ("a NUL in a chunk extension",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2;\x00\r\n{}\r\n0\r\n\r\n", (400,), False),
    ("a request line of spaces", b"   \r\n\r\n", (400,), False),
    ("a tab between method and target", b"GET\t/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", (400,), False),
    ("a header cut off by the client's end of sending", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: b", (400,), True),
    ("a body shorter than its Content-Length",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{}",
     (400,), True),
    ("a chunked body without its last chunk",
     b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", (400,), True),
]


def exact_json(text):
    """JSON parsed so that nothing is lost or blurred: numbers as exact Decimals (12.30 == 12.3, but never
    1 == true), objects as their (key, value) pairs in order, duplicates kept."""
    return json.loads(text, object_pairs_hook=lambda pairs: ("object", tuple(pairs)),
                      parse_float=lambda x: ("number", decimal.Decimal(x)),
                      parse_int=lambda x: ("number", decimal.Decimal(x)),
                      parse_constant=lambda x: ("constant", x))


def database_rows(where, columns):
    """[(id, row)] for the selection, as PostgreSQL's row_to_json says it, in id order (psql, the
    contract's session settings)."""
    out = psql(DB_URL, f"SELECT json_build_array(t.id, (SELECT row_to_json(r) FROM (SELECT {columns}) r))"
                       f" FROM records t WHERE {where} ORDER BY t.id").decode()
    rows = []
    for line in out.splitlines():
        key, row = exact_json(line)
        rows.append((int(key[1]), row))
    return rows


def listed_rows(server, query, limit):
    """Walks /api/records?query by nextCursor: [(page, row)], and the cursors seen."""
    rows, cursors, after = [], [], None
    for page_no in range(10000):
        path = f"/api/records?{query}&limit={limit}" + (f"&after={after}" if after is not None else "")
        r = request(server, "GET", path)
        check(r.status == 200, f"GET {path}: {r}")
        check((r.header("Content-Type") or "").startswith("application/json"), f"GET {path}: Content-Type")
        body = exact_json(r.body)
        check(body[0] == "object" and [k for k, _ in body[1]] == ["rows", "nextCursor"], f"GET {path}: {r}")
        page, cursor = dict(body[1])["rows"], dict(body[1])["nextCursor"]
        check(isinstance(page, list) and len(page) <= limit, f"GET {path}: {len(page)} rows for limit {limit}")
        rows += [(page_no, row) for row in page]
        cursors.append((len(page), cursor))
        if cursor is None:
            return rows, cursors
        check(cursor[0] == "number" and cursor[1] == int(cursor[1]), f"GET {path}: nextCursor {cursor!r}")
        after = int(cursor[1])
    raise AssertionError(f"/api/records?{query}: no end after 10000 pages")


RECORDS_CASES = [
    # (query string, the same selection in SQL, its columns in SQL, page size)
    ("category=hostile", "category = 'hostile'", ALL_COLUMNS, 3),
    ("category=books&category=hostile&name[ne]=nobody&id[gt]=29500&columns=description,name,id,created_at,amount",
     "category IN ('books', 'hostile') AND name <> 'nobody' AND id > 29500", "description, name, id, created_at, amount", 7),
    ("status=paid&status=shipped&amount[gte]=-1&amount[lt]=100&created_at[gte]=2024-01-01T00:00:00Z"
     "&created_at[lt]=2024-07-01T05:30:00%2B05:30&id[lte]=6000&columns=amount,created_at,status",
     "status IN ('paid', 'shipped') AND amount >= -1 AND amount < 100 AND created_at >= '2024-01-01T00:00:00Z'"
     " AND created_at < '2024-07-01T05:30:00+05:30' AND id <= 6000", "amount, created_at, status", 50),
    ("name=" + urllib.parse.quote("Ünïcödé 名前") + "&columns=name,description,email",
     "name = 'Ünïcödé 名前'", "name, description, email", 1),
    ("description[ne]=&category=hostile&columns=id,description", "description <> '' AND category = 'hostile'",
     "id, description", 2),
    ("id[lte]=2500", "id <= 2500", ALL_COLUMNS, 1000),
]


# ---------------------------------------------------------------------------------------------------------
# Runner


HOSTILE_ROWS = r"""
INSERT INTO records (category, created_at, name, email, amount, status, description) VALUES
  ('books', '2024-01-15T12:00:00Z', 'Quote "Q" O''Hara', 'q@example.com', 12.34, 'paid',
   'He said "hi", then ""bye"", ok'),
  ('books', '2024-01-16 00:00:00.123456+00', E'CR\rLF\n', 'crlf@example.com', 99.99, 'shipped',
   E'line1\r\nline2\rline3\nline4'),
  ('hostile', '2024-06-01T00:00:00+05:30', 'Ünïcödé 名前', 'u@example.com', -0.01, 'pending',
   E'café 日本語 🚀 \u200b zero-width, \u00e9\u0301 combining'),
  ('hostile', '1999-12-31T23:59:59Z', 'backslash dot', 'bs@example.com', 0, 'paid', '\.'),
  ('hostile', '2038-01-19T03:14:08Z', E'\\.\n', 'bs2@example.com', 9999999999.99, 'paid', E'\\.\r\n\\.'),
  ('hostile', '2000-02-29T00:00:00.5Z', ',', 'comma@example.com', 1, 'paid', '"'),
  ('hostile', '2001-01-01T00:00:00Z', ' ', 'space@example.com', 2, 'paid', NULL),
  ('hostile', '2001-01-01T00:00:00Z', '', 'empty@example.com', 3, 'paid', '');
"""


def setUpModule():
    global DB_URL, A
    if not os.environ.get("PGEXPORT_E2E_KEEP"):
        unittest.addModuleCleanup(shutil.rmtree, TMP, ignore_errors=True)
    DB_URL = unittest.enterModuleContext(scratch_database("pgexport_e2e"))
    seed(BINARY, DB_URL, 30000, timeout=120)
    psql(DB_URL, "SET standard_conforming_strings = on;" + HOSTILE_ROWS)
    print(f"database {DB_URL}: {sql_value('SELECT count(*) FROM records')} rows", flush=True)
    A = unittest.enterModuleContext(instance("a", chunk_rows=1000))
    A.start()


class on_server_a(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = A

    def test_healthz_and_page(self):
        a = self.a
        r = request(a, "GET", "/healthz")
        check(r.status == 200, f"/healthz: {r}")
        printed = subprocess.run([BINARY, "--version"], capture_output=True, check=True).stdout.decode().split()
        check(len(printed) == 2 and printed[0] == "pgexport" and r.json().get("version") == printed[1],
              f"/healthz version {r.json().get('version')!r} against pgexport --version {printed}")
        r = request(a, "GET", "/")
        check(r.status == 200 and (r.header("Content-Type") or "").startswith("text/html"), f"GET /: {r.status}")
        r = request(a, "GET", "/api/openapi.json")
        check(r.status == 200 and "paths" in r.json(), f"/api/openapi.json: {r.status}")
        print(f"    /api/openapi.json: {harness.check_openapi(r.body, '/api/openapi.json')}", flush=True)

    def test_healthz_means_ready(self):
        """Right after /healthz answers 200 the API must accept work (no 503 "the server is starting")."""
        a = self.a
        a.stop()
        a.start(a.port)
        seen = [f"start #{n}: GET /api/records -> {r.status} {r.body[:160]!r}" for n, r in a.not_ready_after_healthy]
        check(not seen, "/healthz said 200 but the API was not ready: " + "; ".join(seen))

    def test_export_all_rows(self):
        a = self.a
        job_id, body = export_and_compare(a, {}, "true", ALL_COLUMNS)
        SHARED["all"] = (job_id, body)
        check(body.count(b"\n") > 30000, "the all-rows file is suspiciously short")

    def test_export_contract_example(self):
        a = self.a
        req = {"filters": {"category": "books", "status": ["paid", "shipped"],
                           "created_at": {"gte": "2024-01-01T00:00:00Z", "lt": "2024-02-01T00:00:00Z"},
                           "amount": {"gt": 10}},
               "columns": ["id", "category", "created_at", "amount"]}
        where = ("category = 'books' AND status IN ('paid', 'shipped') AND created_at >= '2024-01-01T00:00:00Z'"
                 " AND created_at < '2024-02-01T00:00:00Z' AND amount > 10")
        _, body = export_and_compare(a, req, where, "id, category, created_at, amount")
        check(body.count(b"\n") > 3, f"the example matched almost nothing: {body[:200]!r}")
        check(b"2024-01-16 00:00:00.123456+00" in body, "the hostile row with microseconds is missing")

    def test_export_column_subset_without_id(self):
        a = self.a
        req = {"filters": {"description": {"ne": ""}}, "columns": ["description", "email", "amount", "created_at"]}
        export_and_compare(a, req, "description <> ''", "description, email, amount, created_at")

    def test_export_hostile_rows(self):
        a = self.a
        req = {"filters": {"category": {"in": ["hostile", "books"]}, "name": {"ne": "nobody"}},
               "columns": ["id", "name", "description", "created_at", "amount"]}
        _, body = export_and_compare(a, req, "category IN ('hostile', 'books') AND name <> 'nobody'",
                                     "id, name, description, created_at, amount")
        for needle in (b'"line1\r\nline2\rline3\nline4"', '🚀'.encode(), b',\\.,', b'""hi""'):
            check(needle in body, f"{needle!r} is not in the export of the hostile rows")
        # One column: a value that is exactly \. is alone on its line then, and COPY quotes it.
        _, body = export_and_compare(a, {"filters": {"category": "hostile"}, "columns": ["description"]},
                                     "category = 'hostile'", "description")
        check(b'\n"\\."\n' in body, f"the lone \\. is not quoted: {body!r}")

    def test_export_no_match(self):
        a = self.a
        req = {"filters": {"category": "no-such-category"}}
        _, body = export_and_compare(a, req, "category = 'no-such-category'", ALL_COLUMNS)
        check(body == b"id,category,created_at,name,email,amount,status,description\n", f"header-only file: {body!r}")

    def test_export_operators_and_null(self):
        a = self.a
        req = {"filters": {"id": {"gt": 100, "lte": 20000}, "description": None, "amount": {"ne": 0, "gte": -500.5},
                           "created_at": {"gte": "2023-06-01T05:30:00+05:30", "lt": "2025-01-01"},
                           "status": {"in": ["paid", "pending", "refunded"]}},
               "columns": ["status", "id", "description", "amount"]}
        where = ("id > 100 AND id <= 20000 AND description IS NULL AND amount <> 0 AND amount >= -500.5"
                 " AND created_at >= '2023-06-01T05:30:00+05:30' AND created_at < '2025-01-01'"
                 " AND status IN ('paid', 'pending', 'refunded')")
        _, body = export_and_compare(a, req, where, "status, id, description, amount")
        check(body.count(b"\n") > 10, "the operator filters matched almost nothing")
        export_and_compare(a, {"filters": {"description": {"ne": None}, "category": "hostile"}},
                           "description IS NOT NULL AND category = 'hostile'", ALL_COLUMNS)

    def test_empty_body_means_all_rows(self):
        a = self.a
        r = request(a, "POST", "/api/export", body=b"", headers={"Content-Type": "application/json"})
        check(r.status == 202, f"POST with an empty body: {r}")
        job_id = r.json()["jobId"]
        st = wait_job(a, job_id)
        check(st["status"] == "completed", f"empty-body job: {st}")
        check(st["rowsExported"] == int(sql_value("SELECT count(*) FROM records")), f"empty-body rows {st['rowsExported']}")
        r = request(a, "POST", "/api/export", body={"filters": None, "columns": None})
        check(r.status == 202, f"null filters and columns: {r}")
        wait_job(a, r.json()["jobId"])

    def test_keep_alive_across_downloads(self):
        a = self.a
        job_id, body = all_rows_job(a)
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=HTTP_TIMEOUT)
        try:
            for i, (method, path, headers) in enumerate([
                    ("GET", f"/api/export/{job_id}/download", {}),
                    ("GET", f"/api/export/{job_id}/status", {}),
                    ("GET", f"/api/export/{job_id}/download", {"Range": "bytes=5-14"}),
                    ("HEAD", f"/api/export/{job_id}/download", {}),
                    ("GET", f"/api/export/{job_id}/download", {"Range": "bytes=-7"}),
                    ("POST", "/api/export", {"Content-Type": "application/json"}),
                    ("GET", "/healthz", {})]):
                conn.request(method, path, body=b'{"columns": "x"}' if method == "POST" else None, headers=headers)
                r = conn.getresponse()
                data = r.read()
                if i == 0:
                    check(r.status == 200 and data == body, "keep-alive: full download")
                elif i == 1:
                    check(r.status == 200 and json.loads(data)["jobId"] == job_id, f"keep-alive: status {r.status}")
                elif i == 2:
                    check(r.status == 206 and data == body[5:15], f"keep-alive: range {r.status} {data!r}")
                elif i == 3:
                    check(r.status == 200 and data == b"", "keep-alive: HEAD")
                elif i == 4:
                    check(r.status == 206 and data == body[-7:], f"keep-alive: suffix range {r.status} {data!r}")
                elif i == 5:
                    check(r.status == 400, f"keep-alive: bad POST {r.status}")
                else:
                    check(r.status == 200, f"keep-alive: /healthz {r.status}")
                check(not r.will_close or i == 5, f"keep-alive: the server closed after request {i} ({method} {path})")
                if r.will_close:
                    conn.close()
        finally:
            conn.close()

    def test_range_requests(self):
        a = self.a
        job_id, body = all_rows_job(a)
        size = len(body)
        cases = [("bytes=0-99", 0, 99), ("bytes=100-", 100, size - 1), ("bytes=-50", size - 50, size - 1),
                 ("bytes=10-10", 10, 10), (f"bytes={size - 1}-{size + 1000}", size - 1, size - 1)]
        for header, first, last in cases:
            r = download(a, job_id, headers={"Range": header})
            check(r.status == 206, f"Range {header}: expected 206, got {r.status}")
            check(r.header("Content-Range") == f"bytes {first}-{last}/{size}",
                  f"Range {header}: Content-Range {r.header('Content-Range')!r}")
            check(r.header("Content-Length") == str(last - first + 1), f"Range {header}: Content-Length")
            check(r.body == body[first:last + 1], f"Range {header}: wrong bytes")
            check(r.header("Accept-Ranges") == "bytes", f"Range {header}: Accept-Ranges")

        r = download(a, job_id, headers={"Range": f"bytes={size}-"})
        check_error(r, 416, f"Range bytes={size}-")
        check(r.header("Content-Range") == f"bytes */{size}", f"416 Content-Range {r.header('Content-Range')!r}")

        r = download(a, job_id, headers={"Range": "bytes=0-9,20-29"})
        check(r.status == 200 and r.body == body, f"multiple ranges: expected 200 and the whole file, got {r.status}")
        check(r.header("Content-Range") is None, "multiple ranges: a 200 must not carry Content-Range")

        r = download(a, job_id, headers={"Range": "lines=0-9"})
        check(r.status == 200 and r.body == body, f"unknown range unit: expected 200 and the whole file, got {r.status}")

        # HEAD: the headers of the download and no body at all (read at the socket level).
        raw = raw_exchange(a.port, f"HEAD /api/export/{job_id}/download HTTP/1.1\r\nHost: localhost\r\n"
                                   f"Connection: close\r\n\r\n".encode())
        st, headers, rest = parse_raw_response(raw)
        check(st == 200, f"HEAD download: {st}")
        check(headers.get("content-length") == str(size), f"HEAD Content-Length {headers.get('content-length')!r}")
        check(headers.get("accept-ranges") == "bytes", "HEAD Accept-Ranges")
        check(headers.get("content-disposition") == f'attachment; filename="export-{job_id}.csv"', "HEAD disposition")
        check(rest == b"", f"HEAD sent {len(rest)} body bytes")

    def test_unknown_and_malformed_ids(self):
        a = self.a
        unknown = str(uuid.uuid4())
        for method, suffix in (("GET", "/status"), ("GET", "/download"), ("DELETE", ""), ("HEAD", "/download")):
            r = request(a, method, f"/api/export/{unknown}{suffix}")
            if method == "HEAD":
                check(r.status == 404, f"HEAD unknown download: {r.status}")
            else:
                check_error(r, 404, f"{method} unknown job {suffix}")
        r = request(a, "GET", f"/api/export/{unknown.upper()}/status")
        check_error(r, 404, "unknown upper-case uuid")
        for bad in ("zzz", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2f..%2f..%2fetc%2fpasswd",
                    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", unknown + "x",
                    unknown[:-1] + "%00", "%20" * 12, "00000000-0000-0000-0000-00000000000g"):
            for method, suffix in (("GET", "/status"), ("GET", "/download"), ("DELETE", "")):
                r = request(a, method, f"/api/export/{bad}{suffix}")
                check(r.status in (400, 404), f"{method} /api/export/{bad}{suffix}: expected 400/404, got {r}")
                check_error(r, None, f"{method} id {bad!r}")
        for path in ("/api/export/../../etc/passwd", "/api/export/%2e%2e/%2e%2e/etc/passwd/download",
                     "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd"):
            r = request(a, "GET", path)
            check(r.status in (400, 404), f"GET {path}: expected 400/404, got {r.status} {r.body[:100]!r}")
            check(b"root:" not in r.body, f"GET {path} leaked /etc/passwd")

    def test_list_newest_first(self):
        a = self.a
        first = create_job(a, {"filters": {"category": "books"}, "columns": ["id"]})
        # createdAt has millisecond precision: the second job is created once the (shared) clock has passed
        # the first's millisecond, so that the two are ordered by the time they were created.
        t1 = status(a, first)["createdAt"]
        t1_seconds = datetime.datetime.fromisoformat(t1.replace("Z", "+00:00")).timestamp()
        while time.time() < t1_seconds + 0.002:
            time.sleep(0.001)
        second = create_job(a, {"filters": {"category": "garden"}, "columns": ["id"]})
        t2 = status(a, second)["createdAt"]
        check(t1 < t2, f"the later job's createdAt {t2} is not after the earlier one's {t1}")
        r = request(a, "GET", "/api/export")
        check(r.status == 200, f"GET /api/export: {r}")
        jobs = r.json()
        check(isinstance(jobs, list) and jobs, f"the list is {jobs!r}")
        ids = [j.get("jobId") for j in jobs]
        check(first in ids and second in ids, "new jobs are missing from the list")
        check(ids.index(second) < ids.index(first), "the list is not newest first")
        created = [j["createdAt"] for j in jobs]
        check(created == sorted(created, reverse=True), f"createdAt not descending: {created[:10]}")
        for j in jobs:
            check(j.get("status") in ("queued", "running", "completed", "failed", "cancelled"), f"status in list: {j}")
        r = request(a, "GET", "/api/export?limit=1")
        check(r.status == 200 and len(r.json()) == 1, f"limit=1 gives {r}")
        for bad in ("0", "abc", "1001", "-5"):
            check_error(request(a, "GET", f"/api/export?limit={bad}"), 400, f"list limit={bad}")
        wait_job(a, first)
        wait_job(a, second)

    def test_bad_requests_are_400(self):
        a = self.a
        deep = "[" * 10000 + "]" * 10000
        cases = [
            ("malformed JSON", b'{"filters": {"category": "books"'),
            ("trailing garbage", b'{"filters": {}} x'),
            ("not JSON at all", b"category=books"),
            ("body is an array", b"[]"),
            ("body is an array of requests", b'[{"filters": {}}]'),
            ("body is a string", b'"x"'),
            ("body is null", b"null"),
            ("unknown field", {"filter": {"category": "books"}}),
            ("unknown field next to good ones", {"filters": {}, "columns": ["id"], "formats": "csv"}),
            ("unknown filter column", {"filters": {"nope": 1}}),
            ("unknown column in columns", {"columns": ["id", "nope"]}),
            ("column injection", {"columns": ["id; DROP TABLE records"]}),
            ("filter column injection", {"filters": {"id) OR (1=1": 1}}),
            ("quoted column name", {"columns": ['"id"']}),
            ("upper-case column name", {"columns": ["ID"]}),
            ("empty columns", {"columns": []}),
            ("columns not strings", {"columns": [1]}),
            ("columns not an array", {"columns": "id"}),
            ("filters not an object", {"filters": [["category", "books"]]}),
            ("unknown operator", {"filters": {"amount": {"between": [1, 2]}}}),
            ("SQL operator as operator", {"filters": {"amount": {">": 1}}}),
            ("empty operator object", {"filters": {"amount": {}}}),
            ("amount abc", {"filters": {"amount": "abc"}}),
            ("amount gt abc", {"filters": {"amount": {"gt": "abc"}}}),
            ("amount in with abc", {"filters": {"amount": [1, "abc"]}}),
            ("created_at nope", {"filters": {"created_at": "nope"}}),
            ("created_at gte nope", {"filters": {"created_at": {"gte": "nope"}}}),
            ("created_at impossible date", {"filters": {"created_at": {"lt": "2024-02-30T00:00:00Z"}}}),
            ("id not a number", {"filters": {"id": "x"}}),
            ("id fraction", {"filters": {"id": 1.5}}),
            ("id out of range", {"filters": {"id": {"gt": 99999999999999999999}}}),
            ("empty in", {"filters": {"status": {"in": []}}}),
            ("empty array", {"filters": {"status": []}}),
            ("in not an array", {"filters": {"status": {"in": "paid"}}}),
            ("in with null", {"filters": {"status": {"in": [None]}}}),
            ("gt null", {"filters": {"amount": {"gt": None}}}),
            ("value is an object", {"filters": {"category": {"eq": {"a": 1}}}}),
            ("value is an array in eq", {"filters": {"category": {"eq": ["a"]}}}),
            ("nested arrays", {"filters": {"category": [["books"]]}}),
            ("10000-deep arrays in a value", ('{"filters": {"category": ' + deep + "}}").encode()),
            ("10000-deep arrays as the body", deep.encode()),
            ("10000-deep objects", ('{"a":' * 10000 + "1" + "}" * 10000).encode()),
            ("NUL in a value", b'{"filters": {"category": "a\\u0000b"}}'),
            ("NUL in a column name", b'{"columns": ["id\\u0000"]}'),
            ("NUL in a filter name", b'{"filters": {"category\\u0000": "x"}}'),
            ("lone surrogate", b'{"filters": {"category": "\\ud800"}}'),
            ("invalid UTF-8 in a value", b'{"filters": {"category": "\xff\xfe books"}}'),
            ("truncated UTF-8 in a value", b'{"filters": {"category": "caf\xc3"}}'),
            ("overlong UTF-8 in a value", b'{"filters": {"category": "\xc0\xaf"}}'),
            ("invalid UTF-8 in a column name", b'{"columns": ["i\xffd"]}'),
            ("invalid UTF-8 in a field name", b'{"fi\xfflters": {}}'),
            ("invalid UTF-8 in an operator", b'{"filters": {"amount": {"g\xfft": 1}}}'),
        ]
        failures = []
        for name, body in cases:
            try:
                r = post_raw(a, body if isinstance(body, bytes) else json.dumps(body).encode())
                check_error(r, 400, name)
            except (AssertionError, OSError) as e:
                failures.append(f"{name}: {e}")
        check(a.alive(), "the server died during the bad requests")
        check(request(a, "GET", "/healthz").status == 200, "the server does not answer /healthz after bad requests")
        check(not failures, "; ".join(failures))

    def test_body_too_large_is_413(self):
        a = self.a
        body = b'{"filters": {"category": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
        head = (f"POST /api/export HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        check_raw_error(raw_exchange(a.port, head + body), 413, "2 MiB body")
        # The same without Content-Length, chunked.
        chunks = b"".join(b"%x\r\n" % len(body[i:i + 65536]) + body[i:i + 65536] + b"\r\n"
                          for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
        head = b"POST /api/export HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        check_raw_error(raw_exchange(a.port, head + chunks), 413, "2 MiB chunked body")
        check(request(a, "GET", "/healthz").status == 200, "no /healthz after a large body")

    def test_header_too_large_is_431(self):
        a = self.a
        data = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n"
        check_raw_error(raw_exchange(a.port, data), 431, "64 KiB header")
        data = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 60) for i in range(1000)) + b"\r\n"
        check_raw_error(raw_exchange(a.port, data), 431, "1000 headers")
        check(request(a, "GET", "/healthz").status == 200, "no /healthz after a large header")

    def test_methods_and_paths(self):
        a = self.a
        r = request(a, "PUT", "/api/export", body={"filters": {}})
        check_error(r, 405, "PUT /api/export")
        check("POST" in (r.header("Allow") or ""), f"405 without a useful Allow header: {r.header('Allow')!r}")
        job_id, _ = all_rows_job(a)
        for method, path in (("PATCH", "/api/export"), ("DELETE", "/api/export"), ("POST", f"/api/export/{job_id}/status"),
                             ("PUT", f"/api/export/{job_id}"), ("POST", f"/api/export/{job_id}/download"),
                             ("POST", "/healthz"), ("POST", "/api/records")):
            check_error(request(a, method, path), 405, f"{method} {path}")
        for path in ("/nope", "/api/nope", "/api/export/" + job_id + "/nope", "/api", "/api/exports"):
            check_error(request(a, "GET", path), 404, f"GET {path}")

    def test_sql_injection_in_values(self):
        a = self.a
        before = sql_value("SELECT count(*) FROM records")
        values = ["x'); DROP TABLE records; --", "x' OR '1'='1", "x\"; DROP TABLE records; --", "$$; DROP TABLE records; $$",
                  "books' --", "x\\'; DROP TABLE records; --", "%' OR 1=1 --"]
        for v in values:
            for req in ({"filters": {"category": v}},
                        {"filters": {"category": {"in": ["nothing", v]}, "status": {"ne": v}}},
                        {"filters": {"name": {"gte": v, "lte": v}}}):
                job_id = create_job(a, req)
                st = wait_job(a, job_id)
                check(st["status"] == "completed" and st["rowsExported"] == 0, f"injection {req}: {st}")
                body = download(a, job_id).body
                check(body == b"id,category,created_at,name,email,amount,status,description\n",
                      f"injection {v!r}: the file is not header-only: {body[:200]!r}")
        check(sql_value("SELECT count(*) FROM records") == before, "the records table changed")
        for v in ("1 OR 1=1", "1; DROP TABLE records"):
            check_error(post_raw(a, json.dumps({"filters": {"id": v}}).encode()), 400, f"id {v!r}")
        r = request(a, "GET", "/api/records?category=" + urllib.parse.quote("x'); DROP TABLE records; --"))
        check(r.status == 200 and r.json()["rows"] == [], f"records listing with an injection: {r}")
        check(sql_value("SELECT to_regclass('records') IS NOT NULL") == "t", "the records table is gone")

    def test_raw_socket_garbage(self):
        a = self.a
        failures = []
        for name, garbage, statuses, half_close in GARBAGE:
            try:
                raw = raw_exchange(a.port, garbage, timeout=10, half_close=half_close, first_response=True)
            except TimeoutError as e:
                failures.append(f"{name} ({garbage[:60]!r}): the server neither answered nor closed: {e}")
                continue
            try:
                check_raw_error(raw, statuses, f"{name} ({garbage[:60]!r})")
            except AssertionError as e:
                failures.append(str(e))
            if request(a, "GET", "/healthz").status != 200:
                failures.append(f"no /healthz after {name}")
        # A connection that sends nothing and ends is not a request: there is nothing to answer, and an HTTP
        # response to no request would be unsolicited. The server must close it at once, without any byte.
        raw = raw_exchange(a.port, b"", timeout=10, half_close=True)
        check(raw == b"", f"an empty connection got {raw[:200]!r}")
        check(a.alive(), "the server died during the garbage")
        check(not failures, "; ".join(failures))

    def test_slow_clients_do_not_block(self):
        a = self.a
        socks = []
        try:
            for i in range(50):
                s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
                if i % 2:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")  # a header that never ends
                socks.append(s)
            t0 = time.monotonic()
            r = request(a, "GET", "/healthz", timeout=5)
            took = time.monotonic() - t0
            check(r.status == 200, f"/healthz with 50 idle clients: {r}")
            check(took < 2, f"/healthz took {took:.2f} s with 50 idle clients")
            t0 = time.monotonic()
            r = request(a, "GET", "/api/export?limit=5", timeout=5)
            check(r.status == 200 and time.monotonic() - t0 < 2, "the API is slow with 50 idle clients")
        finally:
            for s in socks:
                s.close()
        check(request(a, "GET", "/healthz").status == 200, "no /healthz after the idle clients left")

    def test_metrics(self):
        a = self.a
        r = request(a, "GET", "/metrics")
        check(r.status == 200, f"/metrics: {r}")
        check((r.header("Content-Type") or "").startswith("text/plain"), f"/metrics Content-Type {r.header('Content-Type')}")
        text = r.body.decode()
        check(re.search(r'^pgexport_jobs\{status="completed"\} [1-9]\d*$', text, re.M),
              "no pgexport_jobs{status=\"completed\"} > 0")
        check(re.search(r'^pgexport_http_requests_total\{[^}]*\} \d+$', text, re.M), "no pgexport_http_requests_total")
        check(re.search(r'^pgexport_rows_exported_total [1-9]\d*$', text, re.M), "pgexport_rows_exported_total is 0")
        harness.check_prometheus_text(r.body)  # Prometheus's own parser and linter, on a server that has worked

    def test_records_pagination(self):
        a = self.a
        expected = [int(x) for x in sql_value("SELECT id FROM records WHERE category = 'books' ORDER BY id LIMIT 15").split()]
        got, cursor, pages = [], None, 0
        while len(got) < 15:
            path = "/api/records?limit=5&category=books" + (f"&after={cursor}" if cursor is not None else "")
            r = request(a, "GET", path)
            check(r.status == 200, f"GET {path}: {r}")
            page = r.json()
            rows = page["rows"]
            check(len(rows) == 5, f"page {pages}: {len(rows)} rows")
            for row in rows:
                check(row["category"] == "books", f"a row of another category: {row}")
                check(set(row) == set(ALL_COLUMNS.replace(" ", "").split(",")), f"row fields {sorted(row)}")
            ids = [row["id"] for row in rows]
            check(ids == sorted(set(ids)), f"ids not strictly increasing: {ids}")
            check(not got or ids[0] > got[-1], f"page overlaps the previous: {got[-1:]} then {ids}")
            check(page["nextCursor"] == ids[-1], f"nextCursor {page['nextCursor']} is not the last id {ids[-1]}")
            got += ids
            cursor = page["nextCursor"]
            pages += 1
        check(got == expected, f"listing ids {got} != database {expected}")

        r = request(a, "GET", "/api/records?limit=3&columns=email,id&status=paid&status=shipped&amount[gt]=10")
        check(r.status == 200, f"records with columns and operators: {r}")
        rows = r.json()["rows"]
        check(rows and all(list(row) == ["email", "id"] for row in rows), f"columns=email,id gives {rows[:1]}")
        ids = [row["id"] for row in rows]
        want = [int(x) for x in sql_value("SELECT id FROM records WHERE status IN ('paid','shipped') AND amount > 10"
                                          " ORDER BY id LIMIT 3").split()]
        check(ids == want, f"filtered listing {ids} != database {want}")

        last = sql_value("SELECT max(id) FROM records")
        r = request(a, "GET", f"/api/records?limit=5&after={last}")
        check(r.status == 200 and r.json() == {"rows": [], "nextCursor": None}, f"past the end: {r}")

        for bad in ("limit=0", "limit=abc", "limit=1001", "limit=-1", "limit=", "limit=5x", "after=x",
                    "nope=1", "amount=abc", "amount[between]=1", "created_at[gte]=nope", "columns=id,nope",
                    "category=%zz"):
            check_error(request(a, "GET", f"/api/records?{bad}"), 400, f"/api/records?{bad}")

    def test_records_values_match_database(self):
        """Every value of /api/records (hard rows included) is what PostgreSQL's row_to_json says for the same
        selection, page by page, with nextCursor at each page's last key."""
        a = self.a
        seen_hard = set()
        for query, where, columns, limit in RECORDS_CASES:
            want = database_rows(where, columns)
            check(want, f"the selection {where!r} is empty in the database; the case checks nothing")
            got, cursors = listed_rows(a, query, limit)
            what = f"/api/records?{query} (limit {limit})"
            check(len(got) == len(want), f"{what}: {len(got)} rows listed, the database has {len(want)}")
            for i, ((page, row), (key, expected)) in enumerate(zip(got, want)):
                check(row == expected, f"{what}: row {i} (id {key}, page {page}) differs from the database:\n"
                                       f"  listed   {row!r}\n  database {expected!r}")
                text = repr(row)
                for needle in ("\\n", "\\r", '"', "名前", "🚀", ".123456"):
                    if needle in text:
                        seen_hard.add(needle)
            # Full pages end with a cursor at their last row's key; the page after the last row is empty and
            # ends the walk; a short page ends it too.
            keys = [k for k, _ in want]
            n = 0
            for size, cursor in cursors:
                n += size
                if cursor is not None:
                    check(size == limit and cursor[1] == keys[n - 1], f"{what}: nextCursor {cursor} after {n} rows")
                else:
                    check(n == len(want) and size < limit, f"{what}: the walk ended after {n} of {len(want)} rows")
            check(len(cursors) == len(want) // limit + 1, f"{what}: {len(cursors)} pages for {len(want)} rows")
            for _, row in got:
                for k, v in row[1]:
                    if k == "description" and v in (None, ""):
                        seen_hard.add(f"description {v!r}")
        check({"\\n", "\\r", '"', "名前", "🚀", ".123456", "description None", "description ''"} <= seen_hard,
              f"the cases missed some hard values: only {sorted(seen_hard)}")

    def test_no_internal_errors(self):
        a = self.a
        text = request(a, "GET", "/metrics").body.decode()
        bad = re.findall(r'^pgexport_http_requests_total\{route="([^"]*)",code="(5\d\d)"\} (\d+)$', text, re.M)
        bad = [b for b in bad if b[1] != "503"]  # 503 "unavailable" is legitimate; test_healthz_means_ready covers start-up
        check(not bad, f"the server answered 5xx: {bad}")
        check(a.alive(), "the server is not running")


class on_server_b(unittest.TestCase):
    """Server b has API keys; it starts once every job of server a ended (it would take them up)."""

    @classmethod
    def setUpClass(cls):
        wait_quiescent(A)
        cls.a = A
        cls.b = cls.enterClassContext(instance("b", chunk_rows=1000, api_keys=["k1", "k2"]))
        cls.b.start()

    def test_api_keys(self):
        a, b = self.a, self.b
        check(request(b, "GET", "/healthz").status == 200, "/healthz needs no key")
        r = request(b, "GET", "/api/export")
        check_error(r, 401, "no Authorization")
        check((r.header("WWW-Authenticate") or "").lower().startswith("bearer"), "401 without WWW-Authenticate: Bearer")
        for value in ("Bearer nope", "Bearer k1x", "Bearer k", "Bearer ", "Basic k1", "k1", "Bearer  k1", "bearer k3"):
            check_error(request(b, "GET", "/api/export", headers={"Authorization": value}), 401, f"Authorization {value!r}")
        check_error(request(b, "POST", "/api/export", body={}), 401, "POST without a key")
        check_error(request(b, "GET", "/api/records?limit=1"), 401, "records without a key")

        req = {"filters": {"category": "books"}, "columns": ["id", "amount"]}
        job_id = create_job(b, req, key="k1")
        check_error(request(b, "GET", f"/api/export/{job_id}/status", key="k2"), 404, "k2 reads k1's status")
        check_error(request(b, "GET", f"/api/export/{job_id}/download", key="k2"), 404, "k2 downloads k1's job")
        r = request(b, "GET", "/api/export", key="k2")
        check(r.status == 200 and job_id not in [j["jobId"] for j in r.json()], "k2 sees k1's job in the list")
        st = wait_job(b, job_id, key="k1")
        check(st["status"] == "completed", f"k1's job: {st}")
        r = request(b, "GET", "/api/export", key="k1")
        check(r.status == 200, f"k1 lists: {r}")
        listed = [j["jobId"] for j in r.json()]
        check(job_id in listed, "k1 does not see its own job")
        check(listed == [job_id], f"k1 sees jobs it did not create: {len(listed)} jobs")
        r = request(b, "GET", f"/api/export/{job_id}/download", key="k1")
        check(r.status == 200, f"k1 download: {r}")
        check_same_bytes(r.body, copy_csv("SELECT id, amount FROM records WHERE category = 'books' ORDER BY id"),
                         "k1's download")
        check_error(request(b, "DELETE", f"/api/export/{job_id}", key="k2"), 404, "k2 deletes k1's job")
        check(request(b, "GET", "/metrics").status == 200, "/metrics needs no key")
        # The keyless server A shares the job store; a key server must not hand A's jobs to a key.
        a_job, _ = all_rows_job(a)
        check_error(request(b, "GET", f"/api/export/{a_job}/status", key="k1"), 404, "k1 reads a keyless job")


class on_server_g(unittest.TestCase):
    """Server g exports the gated view; it starts once every job of servers a and b ended."""

    @classmethod
    def setUpClass(cls):
        wait_quiescent(A)
        install_gate(DB_URL, view=GATED_VIEW, open_below=0)
        cls.g = cls.enterClassContext(instance("g", chunk_rows=1000, extra_args=["--table", GATED_VIEW,
                                                                                "--max-concurrent", "2"]))
        cls.g.start()

    def setUp(self):
        check(self.g.alive(), "server g is not running")

    def test_download_before_completion_is_409(self):
        g = self.g
        # Two slots (--max-concurrent 2), both held at the gate: the first two jobs are running and cannot
        # finish, the third waits for a slot. None of them may be downloaded until it completes.
        gate_set_up(g, open_below=0)
        with held_gate(DB_URL) as gate:
            ids = [create_job(g, {}) for _ in range(3)]
            gate.wait_for_waiters(2)
            check_not_ready(g, ids[0], "running")
            check_not_ready(g, ids[1], "running")
            check_not_ready(g, ids[2], "queued")
            check(gate_waiters(DB_URL) == 2, "a held job moved on while the gate was closed")
        for job_id in ids:
            st = wait_job(g, job_id)
            check(st["status"] == "completed", f"job {job_id} did not complete once the gate opened: {st}")
            r = download(g, job_id)
            check(r.status == 200, f"download once completed: {r}")
            check_same_bytes(r.body, all_rows_csv(), f"the gated export {job_id}")

    def test_cancel_queued_and_delete_completed(self):
        g = self.g
        gate_set_up(g, open_below=0)
        with held_gate(DB_URL) as gate:
            ids = [create_job(g, {}) for _ in range(4)]
            gate.wait_for_waiters(2)  # jobs 0 and 1 hold both slots; 2 and 3 wait for one
            states = [status(g, job_id)["status"] for job_id in ids]
            check(states == ["running", "running", "queued", "queued"], f"with two slots held the jobs are {states}")
            check_cancel_answer(request(g, "DELETE", f"/api/export/{ids[3]}"), ids[3], "queued")
            check_cancel_answer(request(g, "DELETE", f"/api/export/{ids[2]}"), ids[2], "queued")
        # The gate is open: the two running jobs complete, and the slots they free must not start the
        # cancelled ones. Once the server runs and queues nothing, it has decided about every job.
        for job_id in ids[:2]:
            check(wait_job(g, job_id)["status"] == "completed", f"job {job_id} did not complete")
        wait_engine_idle(g)
        for job_id in ids[2:]:
            st = check_cancelled_stays(g, job_id)
            check(st["startedAt"] is None and st["rowsExported"] == 0, f"the cancelled queued job ran: {st}")
        check_deleted(g, ids[2], "cancelled")

        # A completed job: DELETE removes its file and its record; the other completed job is untouched.
        job_id = ids[0]
        check(f"{job_id}.csv" in files_of(g, job_id), "the completed job has no file to delete")
        check_deleted(g, job_id, "completed")
        r = download(g, ids[1])
        check(r.status == 200, f"DELETE of one completed job touched another: {r}")
        check_same_bytes(r.body, all_rows_csv(), "the other completed job's file after a DELETE")

    def test_cancel_running_job(self):
        g = self.g
        gate_set_up(g, open_below=3000)
        with held_gate(DB_URL) as gate:
            job_id = create_job(g, {})
            gate.wait_for_waiters(1)  # three chunks written, the fourth's COPY waits
            st = status(g, job_id)
            check(st["status"] == "running", f"the job held at the gate is {st['status']}")
            check(st["expiresAt"] is None, f"a running job has expiresAt {st['expiresAt']!r}")
            check(any(n.endswith(".part") for n in files_of(g, job_id)), "the running job has no partial file")
            check_cancel_answer(request(g, "DELETE", f"/api/export/{job_id}"), job_id, "running")
            # With the gate still closed, the server must let go of the job at once: its coroutine ends
            # without the COPY ever finishing. (Its PostgreSQL backend goes on waiting at the gate: the engine
            # drops the connection without a cancel request, and a backend waiting on a lock does not notice.
            # That is reported as a product bug; this test does not depend on it either way.)
            wait_engine_idle(g)
            check_cancelled_stays(g, job_id)
        # The gate is open: whatever still ran in the database finishes or fails now. The job stays cancelled
        # and no file appears.
        wait_until("no backend runs a COPY of the view", lambda: gate_waiters(DB_URL) == 0 and active_copies() == 0)
        check_cancelled_stays(g, job_id)
        check_deleted(g, job_id, "cancelled")

    def test_sigterm_then_resume(self):
        g = self.g
        # Five chunks of 1000 pass the gate and are checkpointed; the sixth waits. SIGTERM arrives then.
        gate_set_up(g, open_below=5000)
        total = int(sql_value("SELECT count(*) FROM records"))
        held_rows = int(sql_value("SELECT count(*) FROM records WHERE id <= 5000"))
        check(held_rows == 5000 and 0 < held_rows < total, f"the gate's threshold: {held_rows} of {total} rows")
        with held_gate(DB_URL) as gate:
            job_id = create_job(g, {})
            gate.wait_for_waiters(1)
            wait_until("the checkpoint of the fifth chunk is stored", lambda: sql_value(
                f"SELECT rows_exported FROM export_jobs WHERE id = '{job_id}'") == str(held_rows))
            g.stop(15)  # exit 0 within 15 s, with a job held at the gate
            state, rows, last = sql_value(f"SELECT status || ' ' || rows_exported || ' ' || last_processed_id"
                                          f" FROM export_jobs WHERE id = '{job_id}'").split()
            check(state in ("running", "queued"), f"after SIGTERM the job is {state}, not resumable")
            check(int(rows) == held_rows and int(last) == 5000, f"checkpoint after SIGTERM: rows {rows}, last id {last}")
            part = [n for n in files_of(g, job_id) if n.endswith(".part")]
            check(part, f"no partial file after SIGTERM: {files_of(g, job_id)}")
        # Before a new server starts, the stopped one's COPY must be over (it ends once the gate opens; see
        # test_cancel_running_job), so that the job is resumed by exactly one export.
        wait_until("no backend runs a COPY of the view", lambda: gate_waiters(DB_URL) == 0 and active_copies() == 0)

        g.start(g.port)  # same data directory and database: it resumes the job
        st = wait_job(g, job_id, timeout=45)
        check(st["status"] == "completed", f"the resumed job ended {st['status']}: {st}")
        check(st["rowsExported"] == total, f"resumed rowsExported {st['rowsExported']} != {total}")
        # It went on from the checkpoint: the log says so, it was not started over, and this process wrote
        # only the rows after the checkpoint.
        starts = [e.get("resumed_at_row") for e in g.log_events() if e.get("job") == job_id and e.get("event") == "job_started"]
        check(starts == [0, held_rows], f"the job's starts in the log are {starts}, not [0, {held_rows}]")
        restarted = [e for e in g.log_events() if e.get("job") == job_id and e.get("event") == "job_restarted"]
        check(not restarted, f"the resumed job was started over: {restarted}")
        written = metric(g, "pgexport_rows_exported_total")
        check(written == total - held_rows, f"the restarted server wrote {written} rows, not the {total - held_rows} after the checkpoint")
        r = download(g, job_id)
        check(r.status == 200, f"download after resume: {r}")
        check(st["bytesWritten"] == len(r.body), f"bytesWritten {st['bytesWritten']} != {len(r.body)}")
        check_same_bytes(r.body, all_rows_csv(), "the resumed export")
        left = [n for n in files_of(g, job_id) if n != f"{job_id}.csv"]
        check(not left, f"leftover files after the resumed export: {left}")

    def test_all_jobs_end_and_server_a_still_runs(self):
        wait_quiescent(self.g)
        check(A.alive(), f"server a exited with {A.process.returncode}")


if __name__ == "__main__":
    main()
