#!/usr/bin/env python3
"""Progress events (GET /api/export/{id}/events) and the table schema (GET /api/schema) against a real
`pgexport serve`.

    events.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

- A job held at a gate: the stream opens with progress, sends progress at least about once a second
  while the job runs (rowsExported never goes back), and ends with one `completed` event after the gate
  opens; the body is chunked and ends cleanly.
- An ended job gets its final event alone; an unknown job 404, a malformed id 400, another key's job 404,
  no key 401; HEAD sends the headers and no body.
- Clients that drop their streams (closed, reset) leave no connection behind, also while nothing is written
  to them (a queued job): the open-connection gauge in /metrics returns to its baseline.
- SIGTERM ends the open streams and the server exits 0; with a download in flight, a stream open and a
  job running, the download completes, the stream ends, and the next start resumes the job byte-identical.
- `pgexport export` follows the events (no status polling); against a server without events (404) or whose
  stream breaks it falls back to polling and still saves the file.
- /api/schema describes the demo table and a second table with other types; its operators are exactly
  those the export accepts (every operator of every column is tried); an unknown table is 404.
One line per case, then `N passed, M failed`; `-k NAME` runs only the cases whose name has NAME in it."""
import datetime
import http.server
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import (binary, check, check_same_bytes, copy_csv, held_gate, install_gate, main, psql, server,
                     shared_database)

BINARY = binary()
ROWS = 3000
OPEN_BELOW = 1000  # rows up to this key pass the gate; the job then waits at it while it is held


def call(srv, method, path, body=None, headers=None, timeout=30):
    """(status, headers, raw body) of one request; a body is sent as JSON."""
    h = dict(headers or {}, **({"Content-Type": "application/json"} if body is not None else {}))
    r = srv.request(method, path, body, h, timeout=timeout)
    return r.status, r.headers, r.body


class event_stream:
    """An open GET .../events on a socket of its own, its chunked body decoded here, so that a body cut
    short (no last chunk) is told from one that ended. next() reads one event as (name, data as JSON,
    monotonic time of arrival), or None at the end of the stream; it fails when no event comes within
    `within` seconds (pings do not count)."""

    def __init__(self, srv, job, headers=None, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
        h = {"Host": f"127.0.0.1:{srv.port}", **(headers or {})}
        self.sock.sendall((f"GET /api/export/{job}/events HTTP/1.1\r\n" +
                           "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n").decode().split("\r\n")
        self.status = int(head[0].split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:])}
        self.body = b""        # decoded body not read yet
        self.ended = False     # no more body: the last chunk came, or the connection closed
        self.clean_end = False # the last chunk came
        self.comments = 0

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _until(self, marker):
        while marker not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _readline(self):
        while b"\n" not in self.body and not self.ended:
            try:
                size = int(self._until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._until(b"\r\n")
                    self.ended = self.clean_end = True
                    break
                while len(self.buf) < size + 2:
                    self._fill()
                self.body += self.buf[:size]
                self.buf = self.buf[size + 2:]
            except EOFError:
                self.ended = True
        line, sep, self.body = self.body.partition(b"\n")
        return line + sep

    def next(self, within=20):
        deadline = time.monotonic() + within
        name, data = "message", []
        while True:
            check(time.monotonic() < deadline, f"no event within {within} s")
            line = self._readline()
            if not line:
                return None
            line = line.rstrip(b"\r\n").decode()
            if line == "":
                if data:
                    return name, json.loads("\n".join(data)), time.monotonic()
                name, data = "message", []
            elif line.startswith(":"):
                self.comments += 1
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))

    def ended_cleanly(self):
        """After next() returned None: the body's last chunk came (not a connection cut short)."""
        return self.clean_end

    def close(self):
        self.sock.close()


def connections(srv):
    """The open-connection gauge of /metrics (this request's own connection included)."""
    _, _, raw = call(srv, "GET", "/metrics")
    for line in raw.decode().splitlines():
        if line.startswith("pgexport_http_connections "):
            return int(float(line.split()[1]))
    raise AssertionError("/metrics has no pgexport_http_connections")


# --- the events -----------------------------------------------------------------------------------------


def drop(sock, reset):
    if reset:  # RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --- the export client ----------------------------------------------------------------------------------


class fake_server(http.server.ThreadingHTTPServer):
    """An API without working events: /events answers 404 (an older server) or breaks after one event; the
    rest answers like a server whose job has completed."""

    def __init__(self, csv, events):
        self.csv, self.events, self.status_calls = csv, events, 0
        super().__init__(("127.0.0.1", 0), fake_handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def job(self, state):
        return {"jobId": "11111111-1111-1111-1111-111111111111", "status": state, "rowsExported": 2,
                "bytesWritten": len(self.csv), "totalRowsEstimate": 2, "error": None,
                "downloadUrl": "/api/export/11111111-1111-1111-1111-111111111111/download"}


class fake_handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, kind="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(202, json.dumps({"jobId": self.server.job("queued")["jobId"]}).encode())

    def do_GET(self):
        if self.path.endswith("/events"):
            if self.server.events == "missing":
                return self.reply(404, b'{"error":{"code":"not_found","message":"no such endpoint"}}')
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            event = f"event: progress\ndata: {json.dumps(self.server.job('running'))}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # broken: no final event, no last chunk
            self.close_connection = True
        elif self.path.endswith("/status"):
            self.server.status_calls += 1
            self.reply(200, json.dumps(self.server.job("completed")).encode())
        elif self.path.endswith("/download"):
            self.reply(200, self.server.csv, "text/csv")
        else:
            self.reply(404, b"{}")


# --- the schema -----------------------------------------------------------------------------------------

SAMPLES = {  # a value of each type the second table has
    "integer": "7", "character varying": "abc", "numeric": "1.5", "boolean": "true", "json": '{"a": 1}',
    "text[]": "{a,b}", "timestamp with time zone": "2024-01-01T00:00:00Z", "point": "(1,2)",
}


TABLES = ["--table", "records", "--table", "records_gated", "--table", "gadgets:gid"]


def prepare(url):
    """The gate, and a second table of other types."""
    install_gate(url, view="records_gated", open_below=OPEN_BELOW)
    psql(url, """
CREATE TABLE gadgets (gid integer PRIMARY KEY, label varchar(20), price numeric(8,2), active boolean NOT NULL,
                      meta json, tags text[], seen timestamptz, spot point);
INSERT INTO gadgets SELECT g, 'g' || g, g * 1.5, g % 2 = 0, '{"a": 1}', '{a,b}', '2024-01-01Z', point(g, g)
FROM generate_series(1, 50) g;
-- About 40 MB to download: far more than a socket's buffers hold, so a download is in flight for a while.
CREATE TABLE blobs AS SELECT g AS id, repeat(md5(g::text), 30) AS pad FROM generate_series(1, 40000) g;
ALTER TABLE blobs ADD PRIMARY KEY (id);""")


def wait_until_logged(srv, event, timeout=30):
    deadline = time.monotonic() + timeout
    while not srv.log_events(event):
        check(time.monotonic() < deadline, f"the server did not log {event} within {timeout} s")
        time.sleep(0.02)


# The suite's database (ROWS rows, the gate, gadgets) and work directory, made once for all its cases.
events_case = shared_database(BINARY, "events", ROWS, prepare)


class one_server(events_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = cls.enterClassContext(server(BINARY, cls.url, "--chunk-rows", "100", *TABLES))

    def test_events_arrive_in_order_and_end_with_the_final_status(self):
        srv, url = self.srv, self.url
        with held_gate(url) as gate:
            job = srv.create({"table": "records_gated"})
            stream = event_stream(srv, job)
            check(stream.status == 200, f"events answered {stream.status}")
            check(stream.headers.get("content-type") == "text/event-stream", stream.headers)
            check(stream.headers.get("cache-control") == "no-store", stream.headers)
            check(stream.headers.get("x-accel-buffering") == "no", stream.headers)
            check(stream.headers.get("transfer-encoding") == "chunked", stream.headers)
            check("content-length" not in stream.headers, stream.headers)
            events = [stream.next()]
            check(events[0] is not None and events[0][0] == "progress", f"the first event: {events[0]}")
            check(events[0][1]["jobId"] == job and events[0][1]["status"] in ("queued", "running"), events[0])
            gate.wait_for_waiters(1)
            # Held at the gate the job runs but cannot move: progress still comes, about once a second.
            held_from = len(events)
            while len(events) < held_from + 4:
                e = stream.next(within=5)
                check(e is not None and e[0] == "progress", f"while held: {e}")
                events.append(e)
            gaps = [b[2] - a[2] for a, b in zip(events[held_from:], events[held_from + 1:])]
            check(max(gaps) < 2.5 * harness.SLOWDOWN, f"progress while running came {max(gaps):.2f} s apart")
            check(events[-1][1]["status"] == "running" and events[-1][1]["rowsExported"] == OPEN_BELOW,
                  f"held at the gate: {events[-1][1]}")
        # The gate is open: the rest of the rows, then the final event, then the end of the stream.
        while (e := stream.next()) is not None:
            events.append(e)
        check(stream.ended_cleanly(), "the stream ends with the body's last chunk")
        stream.close()
        names = [e[0] for e in events]
        check(names[-1] == "completed" and names.count("completed") == 1, f"events: {names}")
        check(all(n == "progress" for n in names[:-1]), f"events: {names}")
        final = events[-1][1]
        check(final["status"] == "completed" and final["rowsExported"] == ROWS, f"final: {final}")
        check(final == srv.status(job), "the final event's data is the job's status")
        rows = [e[1]["rowsExported"] for e in events]
        check(rows == sorted(rows), f"rowsExported went back: {rows}")
        order = {"queued": 0, "running": 1, "completed": 2}
        states = [order[e[1]["status"]] for e in events]
        check(states == sorted(states), f"statuses out of order: {[e[1]['status'] for e in events]}")

    def test_an_ended_job_gets_its_final_event_alone(self):
        srv, url = self.srv, self.url
        job = srv.create({"columns": ["id"]})
        srv.wait_status(job, lambda st: st["status"] == "completed", "completed")
        stream = event_stream(srv, job)
        first, rest = stream.next(), stream.next()
        stream.close()
        check(first is not None and first[0] == "completed" and first[1]["status"] == "completed", f"got {first}")
        check(rest is None, f"more after the final event: {rest}")
        # A cancelled one says so.
        with held_gate(url) as gate:
            held = srv.create({"table": "records_gated"})
            gate.wait_for_waiters(1)
            stream = event_stream(srv, held)
            check(stream.next()[0] == "progress", "a running job's stream starts with progress")
            st, _, raw = call(srv, "DELETE", f"/api/export/{held}")
            check(st == 200, f"cancel: {st} {raw!r}")
            while (e := stream.next()) is not None and e[0] == "progress":
                pass
            check(e is not None and e[0] == "cancelled" and e[1]["status"] == "cancelled", f"after the cancel: {e}")
            check(stream.next() is None, "the stream ends after the final event")
            stream.close()

    def test_unknown_and_malformed_ids_and_head(self):
        srv, url = self.srv, self.url
        st, headers, raw = call(srv, "GET", "/api/export/00000000-0000-0000-0000-000000000000/events")
        check(st == 404 and json.loads(raw)["error"]["code"] == "not_found", f"unknown job: {st} {raw!r}")
        st, _, raw = call(srv, "GET", "/api/export/not-a-uuid/events")
        check(st == 400 and json.loads(raw)["error"]["code"] == "invalid_request", f"malformed id: {st} {raw!r}")
        st, _, raw = call(srv, "POST", "/api/export/00000000-0000-0000-0000-000000000000/events", "{}")
        check(st == 405, f"POST: {st} {raw!r}")
        with held_gate(url) as gate:
            job = srv.create({"table": "records_gated"})
            gate.wait_for_waiters(1)
            st, headers, raw = call(srv, "HEAD", f"/api/export/{job}/events", timeout=10)
            check(st == 200 and raw == b"", f"HEAD: {st} {raw!r}")
            check(headers.get("content-type") == "text/event-stream", f"HEAD: {headers}")

    def test_client_follows_the_events(self):
        srv, work = self.srv, self.work
        out = os.path.join(work, "events.csv")
        p = subprocess.run([BINARY, "export", "--server", srv.base, "--output", out, "--columns", "id,name"],
                           capture_output=True, timeout=120)
        check(p.returncode == 0, p.stderr.decode())
        targets = []
        for line in srv.log_text().splitlines():
            try:
                targets.append(json.loads(line).get("target", ""))
            except ValueError:
                pass
        events = [t for t in targets if t.endswith("/events")]
        check(events, "the client asked for the events")
        job = events[-1].split("/")[3]
        check(f"/api/export/{job}/status" not in targets, "the client polled the status although events came")
        with open(out, "rb") as f:
            got = f.read()
        expected = copy_csv(self.url, "SELECT id, name FROM records ORDER BY id")
        check_same_bytes(got, expected, "the client's file against COPY")

    def test_schema_describes_each_table(self):
        srv = self.srv
        st, headers, raw = call(srv, "GET", "/api/schema")
        check(st == 200 and headers.get("content-type", "").startswith("application/json"), f"schema: {st}")
        s = json.loads(raw)
        check(s["table"] == "records" and s["key"] == "id", f"the first table: {s['table']} {s['key']}")
        check(s["tables"] == ["records", "records_gated", "gadgets"], f"tables: {s['tables']}")
        cols = {c["name"]: c for c in s["columns"]}
        check([c["name"] for c in s["columns"]] == ["id", "category", "created_at", "name", "email", "amount", "status",
                                                    "description"], f"columns: {list(cols)}")
        check(cols["id"]["type"] == "bigint" and cols["id"]["nullable"] is False, cols["id"])
        check(cols["description"]["nullable"] is True and cols["amount"]["type"] == "numeric", s["columns"])
        every = ["eq", "ne", "gt", "gte", "lt", "lte", "in"]
        check(all(c["operators"] == every for c in s["columns"]), f"records' operators: {s['columns']}")
        # The seeder analyzes records: the values of its few-valued columns come from the statistics.
        check(cols["status"].get("values") == sorted(["pending", "paid", "shipped", "delivered", "cancelled", "refunded"])
              and len(cols["category"].get("values", [])) == 10, f"few values listed: {cols['status']} {cols['category']}")
        check(all("values" not in cols[c] for c in ("id", "name", "email", "amount", "created_at", "description")),
              f"values only for few-valued text: {s['columns']}")
        check(s["options"] == {"formats": ["csv", "jsonl", "parquet"], "compression": ["none", "gzip"],
                               "consistency": ["chunked", "snapshot"],
                               "csvOptions": ["delimiter", "header", "null", "forceQuote", "bom"],
                               "parquetOptions": {"compression": ["zstd", "snappy", "none"],
                                                  "rowGroupRows": {"min": 1000, "max": 10000000, "default": 100000}},
                               "maxParallelism": 4},
              f"options: {s['options']}")
        check(call(srv, "GET", "/api/schema?table=records")[2] == raw, "?table=records is the default")

        st, _, raw = call(srv, "GET", "/api/schema?table=gadgets")
        check(st == 200, f"gadgets: {st} {raw!r}")
        g = json.loads(raw)
        check(g["table"] == "gadgets" and g["key"] == "gid", f"gadgets: {g['table']} {g['key']}")
        types = {c["name"]: (c["type"], c["nullable"]) for c in g["columns"]}
        check(types == {"gid": ("integer", False), "label": ("character varying", True), "price": ("numeric", True),
                        "active": ("boolean", False), "meta": ("json", True), "tags": ("text[]", True),
                        "seen": ("timestamp with time zone", True), "spot": ("point", True)}, f"gadgets: {types}")
        ops = {c["name"]: c["operators"] for c in g["columns"]}
        check(all("values" not in c for c in g["columns"]), f"gadgets: 50 labels are too many to list: {g['columns']}")
        check(ops["meta"] == [], f"json has no operator: {ops['meta']}")
        check(ops["active"] == every and ops["tags"] == every, f"boolean, text[]: {ops}")
        # What the schema promises is what an export accepts, operator by operator.
        for c in g["columns"]:
            for op in every:
                value = [SAMPLES[c["type"]]] if op == "in" else SAMPLES[c["type"]]
                st, _, raw = call(srv, "POST", "/api/export",
                                  json.dumps({"table": "gadgets", "filters": {c["name"]: {op: value}}}))
                check((st == 202) == (op in c["operators"]),
                      f"{c['name']} ({c['type']}) {op}: the schema says {c['operators']}, the export answered {st} {raw!r}")
                if st == 202:  # gone again at once: 56 of them would pass --max-jobs-per-key
                    call(srv, "DELETE", f"/api/export/{json.loads(raw)['jobId']}")

        st, _, raw = call(srv, "GET", "/api/schema?table=nope")
        err = json.loads(raw)["error"]
        check(st == 404 and err["code"] == "not_found" and "gadgets" in err["message"], f"unknown table: {st} {raw!r}")
        st, _, raw = call(srv, "GET", "/api/schema?tabel=gadgets")
        check(st == 400 and json.loads(raw)["error"]["code"] == "invalid_request", f"unknown parameter: {st} {raw!r}")
        st, headers, raw = call(srv, "HEAD", "/api/schema")
        check(st == 200 and raw == b"" and int(headers["content-length"]) > 100, f"HEAD: {st} {headers}")


class one_slot(events_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # 100 streams of one client: above the default --max-streams-per-client (16), which e2e.hardening2 checks.
        cls.srv_one_slot = cls.enterClassContext(server(BINARY, cls.url, "--chunk-rows", "100", "--max-concurrent", "1",
                                                        "--max-streams-per-client", "200", *TABLES))

    def test_dropped_clients_do_not_leak(self):
        """50 streams on a queued job (nothing is written to them for 15 s) and 50 on a running one, dropped
        half by close and half by reset: every connection is gone within a few seconds."""
        srv_one_slot, url = self.srv_one_slot, self.url
        srv = srv_one_slot
        with held_gate(url) as gate:
            running = srv.create({"table": "records_gated"})
            gate.wait_for_waiters(1)
            queued = srv.create({"columns": ["id"]})  # --max-concurrent 1: it waits for the held one
            check(srv.status(queued)["status"] == "queued", "the second job is queued")
            baseline = connections(srv)
            socks = []
            for i in range(100):
                job = queued if i % 2 else running
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
                s.sendall(f"GET /api/export/{job}/events HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
                got = b""
                while b"event: progress" not in got:  # the header and the first event: the stream is open
                    chunk = s.recv(4096)
                    check(chunk, f"stream {i} closed early: {got!r}")
                    got += chunk
                socks.append(s)
            check(connections(srv) >= baseline + 100, f"100 streams open: {connections(srv)} (baseline {baseline})")
            for i, s in enumerate(socks):
                drop(s, reset=i % 4 < 2)
            deadline = time.monotonic() + 5  # far below the 15 s in which a queued job's stream writes nothing
            while (n := connections(srv)) > baseline:
                check(time.monotonic() < deadline, f"{n - baseline} dropped streams still open after 5 s")
                time.sleep(0.05)
            check(srv.status(queued)["status"] == "queued", "the queued job is still queued")
            st, _, _ = call(srv, "DELETE", f"/api/export/{queued}")
            check(st == 200, "cancel the queued job")
            st, _, _ = call(srv, "DELETE", f"/api/export/{running}")
            check(st == 200, "cancel the running job")


class with_keys(events_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv_keys = cls.enterClassContext(server(BINARY, cls.url, "--api-key", "key-a", "--api-key", "key-b",
                                                    *TABLES))

    def test_another_keys_job_is_not_found(self):
        srv_keys = self.srv_keys
        a = {"Authorization": "Bearer key-a"}
        b = {"Authorization": "Bearer key-b"}
        job = srv_keys.create({"columns": ["id"]}, key="key-a")
        stream = event_stream(srv_keys, job, b)
        check(stream.status == 404, f"another key's job: {stream.status}")
        stream.close()
        stream = event_stream(srv_keys, job)
        check(stream.status == 401, f"no key: {stream.status}")
        stream.close()
        stream = event_stream(srv_keys, job, a)
        check(stream.status == 200, f"its own key: {stream.status}")
        while (e := stream.next()) is not None and e[0] == "progress":
            pass
        check(e is not None and e[0] == "completed", f"its own key: {e}")
        check("signature=" in (e[1]["downloadUrl"] or ""), f"the final event's downloadUrl is a signed link, as status's: {e[1]}")
        stream.close()
        st, _, _ = call(srv_keys, "GET", "/api/schema")
        check(st == 401, f"schema without a key: {st}")
        st, _, raw = call(srv_keys, "GET", "/api/schema", headers=b)
        check(st == 200 and json.loads(raw)["table"] == "records", f"schema with a key: {st} {raw[:200]!r}")


class servers_of_their_own(events_case):
    def test_shutdown_ends_the_streams(self):
        url = self.url
        with server(BINARY, url, "--chunk-rows", "100", "--table", "records_gated") as srv, held_gate(url) as gate:
            job = srv.create({})
            gate.wait_for_waiters(1)
            stream = event_stream(srv, job)
            check(stream.next()[0] == "progress", "the stream is open")
            t0 = time.monotonic()
            srv.send_stop()
            while (e := stream.next()) is not None:
                check(e[0] == "progress", f"no final event at shutdown (the job is not over): {e}")
            check(stream.ended_cleanly(), "the server ended the stream (its last chunk came) before it exited")
            check(time.monotonic() - t0 < 10, "the stream ended within 10 s of SIGTERM")
            stream.close()
            srv.wait_exit(30)  # exit 0

    def test_sigterm_drains_a_download_and_a_stream_and_leaves_the_job_resumable(self):
        """SIGTERM with a download in flight (a large file read slowly), an event stream open and a job
        running: the download completes to its last byte, the stream ends cleanly, the server exits 0; the
        next start resumes the job, which completes byte-identical to COPY."""
        url, work = self.url, self.work
        data_dir = os.path.join(work, "sigterm-exports")
        args = ("--chunk-rows", "100", "--table", "records_gated", "--table", "blobs", "--lease", "2s")
        srv = server(BINARY, url, *args, data_dir=data_dir, name="sigterm", work=work)
        try:
            big = srv.create({"table": "blobs"})
            srv.wait_completed(big, 120)
            size = int(srv.status(big)["bytesWritten"])
            with held_gate(url) as gate:
                job = srv.create({})
                gate.wait_for_waiters(1)
                stream = event_stream(srv, job)
                check(stream.next()[0] == "progress", "the stream is open")
                # The download: a small receive window and a pause, so that the server is mid-file (its
                # socket buffer full) when it is told to stop.
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
                sock.settimeout(60)
                sock.connect(("127.0.0.1", srv.port))
                sock.sendall(f"GET /api/export/{big}/download HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
                got = b""
                while b"\r\n\r\n" not in got:
                    got += sock.recv(4096)
                head, _, body = got.partition(b"\r\n\r\n")
                check(head.startswith(b"HTTP/1.1 200"), f"the download started: {head[:100]!r}")
                srv.process.send_signal(signal.SIGTERM)
                wait_until_logged(srv, "shutting_down")
                check(srv.process.poll() is None, "the server waits for the download in flight")
                with open(os.path.join(work, "sigterm-download"), "wb") as out:
                    out.write(body)
                    received = len(body)
                    while received < size:
                        chunk = sock.recv(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                        received += len(chunk)
                sock.close()
                check(received == size, f"the download in flight got {received} of {size} bytes")
                with open(os.path.join(work, "sigterm-download"), "rb") as f:
                    check(f.read() == copy_csv(url, "SELECT * FROM blobs ORDER BY id"), "the download differs from COPY")
                while (e := stream.next()) is not None:
                    check(e[0] == "progress", f"no final event at shutdown (the job is not over): {e}")
                check(stream.ended_cleanly(), "the server ended the stream (its last chunk came) before it exited")
                stream.close()
                srv.wait_exit(60)  # exit 0
                check(srv.log_events("http_drained"), "the server drained its connections")
                check(srv.log_events("job_stopped"), "the running job was stopped and its lease given back")
                srv.start()
                gate.release()
                srv.wait_completed(job, 120)
            with open(os.path.join(data_dir, f"{job}.csv"), "rb") as f:
                check(f.read() == copy_csv(url, "SELECT * FROM records_gated ORDER BY id"),
                      "the resumed job's file differs from COPY")
            resumed = [e for e in srv.events_since_start("job_started") if e.get("job") == job]
            check(resumed and resumed[0].get("resumed_at_row", 0) > 0, f"the job resumed from its checkpoint: {resumed}")
        finally:
            srv.close()

    def test_a_queued_job_run_elsewhere_wakes_its_stream_by_notification(self):
        """A stream on instance B of a job queued on A (another data directory: B never runs it) gets the
        job's claim by A within 3 s: through the database's notification of the change of state, since a
        queued job's stream looks again only every 15 s by itself."""
        url, work = self.url, self.work
        a = server(BINARY, url, "--chunk-rows", "100", "--table", "records_gated", "--max-concurrent", "1",
                   name="notify-a", work=work)
        b = server(BINARY, url, "--chunk-rows", "100", "--table", "records_gated", name="notify-b", work=work)
        try:
            with held_gate(url) as gate:
                first = a.create({})
                gate.wait_for_waiters(1)
                second = a.create({"columns": ["id", "name"]})
                check(a.status(second)["status"] == "queued", "the second job waits for A's slot")
                stream = event_stream(b, second)
                e = stream.next()
                check(e[0] == "progress" and e[1]["status"] == "queued", f"the stream opens queued: {e}")
                gate.release()
                while (e := stream.next(within=60)) is not None and e[1]["status"] == "queued":
                    pass
                arrived = time.time()
                check(e is not None and e[1]["status"] in ("running", "completed"), f"the claim was told: {e}")
                started = a.status(second)["startedAt"]
                lag = arrived - datetime.datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
                print(f"    the claim reached B's stream {lag:.2f} s after it was made", flush=True)
                check(lag < 3, f"the claim reached the stream on another instance {lag:.2f} s after it was made")
                stream.close()
                a.wait_completed(first, 120)
                a.wait_completed(second, 120)
        finally:
            a.close()
            b.close()

    def test_client_falls_back_to_polling(self):
        work = self.work
        for events in ("missing", "broken"):
            fake = fake_server(b"id\n1\n2\n", events)
            try:
                out = os.path.join(work, f"fallback-{events}.csv")
                p = subprocess.run([BINARY, "export", "--server", f"http://127.0.0.1:{fake.server_port}",
                                    "--output", out], capture_output=True, timeout=60)
                check(p.returncode == 0, f"{events}: {p.stderr.decode()}")
                check(fake.status_calls >= 1, f"{events}: the client did not poll")
                with open(out, "rb") as f:
                    check(f.read() == b"id\n1\n2\n", f"{events}: the file")
            finally:
                fake.shutdown()
                fake.server_close()


if __name__ == "__main__":
    main()
