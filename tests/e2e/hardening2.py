#!/usr/bin/env python3
"""Hardening, second round (issue 25): one case per finding of the review, each against real servers, a
real database, a real object store (s3rver) and the real `export` client.

    hardening2.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

- An open API off loopback: `serve` refuses a non-loopback listener without keys unless --no-auth (then a
  warning); without keys a request that a proxy forwarded is refused.
- Authentication first: a POST without a key and without JSON gets 401, not 415.
- Origin: exactly the server's own origin (scheme, host, port) or an --allowed-origin; --allowed-host '*'
  opens no origin.
- Headers: nosniff on everything, the page not frameable (CSP frame-ancestors, X-Frame-Options).
- A stalled catalog: creation latency with slow /api/records listings in flight (printed), the listings'
  own short timeout, and 503 with Retry-After when their queue is full.
- Streams: --max-streams-per-client gives 429 too_many_streams; --trusted-proxy keys caps and quotas by the
  client a trusted proxy names.
- The job list leaves large stored requests out (?requests=full brings them); stored request bytes per key
  are bounded with a clear 429.
- Secrets: no password, key, link signature, presigned query or AWS secret in any log line of a run that
  uses all of them; a presigned URL expires no later than the signed link it was asked with.
- Files and settings: an API key file open to others is refused; --api-key on a command line warns;
  AWS_SESSION_TOKEN signs the uploads and the presigned URLs.
- Leaks: filePath is the file's name (or its s3:// URL); /healthz without a key says only its status, and
  probes are answered from a cache (S3 HEADs counted at a recording proxy).
- search_path: a table created later in an earlier schema of the search path does not take the export's
  place.
- The CLI: https:// against the system's CA store; a 302 to the presigned URL followed without the API
  key; .part and its record never followed through symlinks in a shared (sticky, world-writable) directory,
  and files made 0600; an existing output not replaced without --force; an IPv6 server in brackets.
One line per case, then `N passed, M failed`."""
import concurrent.futures
import hashlib
import hmac
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (S3_CREDENTIALS, binary, check, copy_csv, exact_request, free_port, held_gate,  # noqa: E402
                     install_gate, main, psql, s3_server, scratch_database, seed, server, server_env,
                     shared_database, wait_until)

BINARY = binary()
KEY = "h2-key-5b0e2d9c41"
DB_PASSWORD = "db-password-8c1f77a2"
SESSION_TOKEN = "session-token-Zq81x/7t+A=="


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def post_json(port, body="{}", headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return exact_request(port, "POST", "/api/export", body, h)


def write_private(path, text, mode=0o600):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def run_client(*args, env=None, timeout=120, cwd=None):
    return subprocess.run([BINARY, "export", *args], capture_output=True, timeout=timeout, cwd=cwd,
                          env=dict(server_env(), **(env or {})))


def serve_briefly(args, work, name):
    """`pgexport serve ARGS` until it answers /healthz on 127.0.0.1 (or exits): (exit code or None, log)."""
    log_path = os.path.join(work, f"{name}.log")
    with open(log_path, "wb") as log:
        p = subprocess.Popen([BINARY, "serve", *args], stdout=log, stderr=log, env=server_env(), cwd=work)
    port = int(args[args.index("--listen") + 1].rsplit(":", 1)[1])
    try:
        def answered():
            if p.poll() is not None:
                return True
            try:
                return exact_request(port, "GET", "/healthz", timeout=2)[0] in (200, 503)
            except OSError:
                return False
        wait_until(f"serve {name} answers or exits", answered, 30, poll=0.05)
        code = p.poll()
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(15)
    with open(log_path, errors="replace") as f:
        return code, f.read()


class tcp_proxy:
    """Forwards 127.0.0.1:port to `upstream_port`, one thread per direction, keeping every byte clients sent
    (`seen`, for the test to search). With `tls` (an ssl.SSLContext of a server), clients speak TLS to it."""

    def __init__(self, upstream_port, tls=None):
        self.upstream_port, self.tls = upstream_port, tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen = bytearray()
        self.lock = threading.Lock()
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def requests_seen(self):
        with self.lock:
            return bytes(self.seen)

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            if self.tls:
                client = self.tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except (OSError, ssl.SSLError):
            client.close()
            return

        def pump(src, dst, record):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if record:
                        with self.lock:
                            self.seen += data
                    dst.sendall(data)
            except (OSError, ssl.SSLError):
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
        t = threading.Thread(target=pump, args=(upstream, client, False), daemon=True)
        t.start()
        pump(client, upstream, True)
        t.join(30)
        client.close()
        upstream.close()

    def close(self):
        self.closing = True
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_certificate(work):
    """A self-signed certificate for localhost and 127.0.0.1 (its own CA): (cert path, key path)."""
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


def open_stream(port, job, headers=None):
    """Opens GET .../events on a socket of its own and reads the answer's status line: (socket, status)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    lines = [f"GET /api/export/{job}/events HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, int(head.split()[1]) if head.startswith(b"HTTP/") else 0


# The suite's database (3,000 rows) and work directory, made once for all its cases.
h2_case = shared_database(BINARY, "hardening2", 3000)


class a_server_on_the_network(h2_case):
    """The API's door: who may come in at all, before anything else is looked at."""

    def test_open_api_off_loopback_is_refused(self):
        port = free_port()
        args = ["--listen", f"0.0.0.0:{port}", "--database", self.url, "--data-dir", os.path.join(self.work, "open")]
        code, log = serve_briefly(args, self.work, "open-refused")
        check(code == 2 and "refusing to serve the API without API keys on 0.0.0.0" in log,
              f"serve without keys on 0.0.0.0 exited {code}:\n{log[-1500:]}")
        # --no-auth: the operator says something in front authenticates; it serves, and warns.
        code, log = serve_briefly(args + ["--no-auth"], self.work, "open-no-auth")
        check(code is None, f"serve --no-auth on 0.0.0.0 exited {code}:\n{log[-1500:]}")
        check('"event":"open_api"' in log and '"level":"warning"' in log, f"no open_api warning:\n{log[-1500:]}")

    def test_proxied_requests_need_keys(self):
        # Behind a proxy on the same machine the listener is loopback, and the API would be everyone's.
        with server(BINARY, self.url, name="local", work=self.work) as s:
            st, _, body = exact_request(s.port, "GET", "/api/records?limit=1")
            check(st == 200, f"a local client: {st} {body[:200]!r}")
            for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
                st, _, body = exact_request(s.port, "GET", "/api/records?limit=1", headers=header)
                check(st == 401 and error_code(body) == "unauthorized" and b"--no-auth" in body,
                      f"a request through a proxy ({header}) to a server without keys: {st} {body[:300]!r}")

    def test_authentication_comes_first(self):
        with server(BINARY, self.url, "--api-key-file", write_private(os.path.join(self.work, "keys-first"), KEY + "\n"),
                    name="auth-first", work=self.work) as s:
            # Without a key, the caller learns nothing about the API: not that it wants JSON, not its origins.
            for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "text/plain", "Origin": "http://evil.example"}):
                st, _, body = exact_request(s.port, "POST", "/api/export", "x", headers)
                check(st == 401 and error_code(body) == "unauthorized", f"POST {headers} without a key: {st} {body[:200]!r}")
            st, _, body = exact_request(s.port, "POST", "/api/export", "x", {"Content-Type": "text/plain", "Authorization": f"Bearer {KEY}"})
            check(st == 415, f"with the key, the media type is checked: {st} {body[:200]!r}")


class origins_and_headers(h2_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = cls.enterClassContext(server(BINARY, cls.url, name="origins", work=cls.work))
        cls.star = cls.enterClassContext(server(BINARY, cls.url, "--allowed-host", "*", "--allowed-origin",
                                                "http://localhost:3000", name="star", work=cls.work))

    def test_origin_must_be_exactly_ours(self):
        s = self.s
        own = f"http://localhost:{s.port}"
        for origin in ("http://localhost:3000", f"https://localhost:{s.port}", "http://localhost", f"http://evil.example:{s.port}"):
            # A page's no-cors POST with an empty body counts as {}: a full-table export, if let in.
            st, _, body = exact_request(s.port, "POST", "/api/export", None, {"Origin": origin})
            check(st == 403 and error_code(body) == "forbidden_origin", f"an empty POST from {origin}: {st} {body[:200]!r}")
        st, _, body = post_json(s.port, headers={"Origin": own})
        check(st == 202, f"a POST from the server's own page {own}: {st} {body[:200]!r}")
        s.wait_ended(json.loads(body)["jobId"])

    def test_a_star_host_is_no_star_origin(self):
        star = self.star
        # DNS rebinding: evil.example now resolves to us; its page's requests carry its own Host and Origin.
        evil = f"evil.example:{star.port}"
        st, _, body = exact_request(star.port, "GET", "/api/records?limit=1", headers={"Host": evil})
        check(st == 200, f"--allowed-host '*' serves any Host: {st} {body[:200]!r}")
        st, _, body = post_json(star.port, headers={"Host": evil, "Origin": f"http://{evil}"})
        check(st == 403 and error_code(body) == "forbidden_origin", f"a rebound page's POST: {st} {body[:200]!r}")
        st, _, body = post_json(star.port, headers={"Origin": "http://localhost:3000"})
        check(st == 202, f"an --allowed-origin: {st} {body[:200]!r}")
        star.wait_ended(json.loads(body)["jobId"])

    def test_nosniff_and_no_framing(self):
        s = self.s
        st, h, _ = exact_request(s.port, "GET", "/")
        check(st == 200, f"the page: {st}")
        check(h.get("x-content-type-options") == "nosniff", f"the page's headers: {h}")
        check(h.get("x-frame-options") == "DENY", f"the page's X-Frame-Options: {h}")
        check("frame-ancestors 'none'" in h.get("content-security-policy", ""), f"the page's CSP: {h}")
        for path in ("/api/export", "/api/records?limit=1", "/api/no-such-thing", "/app.js", "/healthz"):
            st, h, _ = exact_request(s.port, "GET", path)
            check(h.get("x-content-type-options") == "nosniff", f"GET {path} ({st}): {h}")


SLOW_VIEW = """
CREATE OR REPLACE FUNCTION pgexport_slow(bigint) RETURNS int LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM pg_sleep(0.05);
    RETURN 1;
END $$;
CREATE OR REPLACE VIEW records_slow AS SELECT r.*, pgexport_slow(r.id) AS slow FROM records r;
"""


class a_stalled_catalog(h2_case):
    """Listings whose filter is on a slow, unindexed column (50 ms a row, 3,000 rows: far past any timeout)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        psql(cls.url, SLOW_VIEW)
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--table", "records_slow", "--records-timeout", "2s",
                                             "--max-jobs-per-key", "0", name="stall", work=cls.work))

    def slow_listing(self):
        return exact_request(self.s.port, "GET", "/api/records?limit=5&slow=2", timeout=120)

    def test_creation_never_waits_behind_listings(self):
        s = self.s
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            listings = [pool.submit(self.slow_listing) for _ in range(12)]
            # All twelve are at the database (or queued for it) before the exports are asked for.
            wait_until("the slow listings in flight", lambda: int(psql(
                self.url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%row_to_json%' AND state = 'active'"
                " AND pid <> pg_backend_pid()").strip() or 0) >= 1, 30)
            took = []
            for _ in range(5):
                t0 = time.monotonic()
                st, _, body = post_json(s.port, '{"columns": ["id"]}')  # the export reads no slow column
                took.append(time.monotonic() - t0)
                check(st == 202, f"POST /api/export with slow listings in flight: {st} {body[:200]!r}")
            answers = [f.result() for f in listings]
        print(f"    creation with 12 slow listings in flight: {', '.join(f'{t * 1000:.0f}' for t in took)} ms "
              f"(max {max(took) * 1000:.0f} ms)", flush=True)
        check(max(took) < 5, f"an export's creation waited {max(took):.1f} s behind the listings")
        statuses = sorted(a[0] for a in answers)
        # Each listing ends at its own short timeout (503, the database's time is not free), or finds its
        # queue full (503 with Retry-After): none holds the catalog for the default statement timeout.
        check(all(st == 503 for st in statuses), f"the slow listings answered {statuses}")
        for st, h, body in answers:
            check("retry-after" in h, f"a 503 without Retry-After: {h} {body[:200]!r}")

    def test_a_full_listing_queue_says_retry_after(self):
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda _: self.slow_listing(), range(40)))
        full = [a for a in answers if a[0] == 503 and b"busy" in a[2]]
        print(f"    40 slow listings at once: {len(full)} found the queue full, "
              f"{sum(a[0] == 503 for a in answers) - len(full)} timed out", flush=True)
        check(full, f"no listing was turned away with a full queue: {[a[0] for a in answers]}")
        check(all(a[1].get("retry-after") for a in full), "a full queue's 503 without Retry-After")


class streams_and_proxies(h2_case):
    """A server behind a trusted proxy at 127.0.0.1, with --no-auth (the proxy authenticates), two streams
    and one queued or running job per client; its jobs are held at a gate."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        install_gate(cls.url, view="records_h2_gated")
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--table", "records_h2_gated", "--no-auth",
                                             "--trusted-proxy", "127.0.0.1", "--max-streams-per-client", "2",
                                             "--max-jobs-per-key", "1", "--max-concurrent", "4",
                                             name="proxied", work=cls.work))

    def test_streams_are_capped_per_client(self):
        s = self.s
        with held_gate(self.url) as gate:
            st, _, body = post_json(s.port, headers={"X-Forwarded-For": "198.51.100.20"})
            check(st == 202, f"create: {st} {body[:200]!r}")
            job = json.loads(body)["jobId"]
            gate.wait_for_waiters(1)
            a = {"X-Forwarded-For": "1.2.3.4, 198.51.100.7"}  # the client wrote 1.2.3.4 itself
            b = {"X-Forwarded-For": "198.51.100.8"}
            opened = []
            try:
                for headers in (a, a, b, b):
                    sock, st = open_stream(s.port, job, headers)
                    opened.append(sock)
                    check(st == 200, f"stream {len(opened)} ({headers}): {st}")
                sock, st = open_stream(s.port, job, {"X-Forwarded-For": "9.9.9.9, 198.51.100.7"})
                opened.append(sock)
                check(st == 429, f"a third stream of 198.51.100.7: {st}")
                body = sock.recv(4096)
                check(b"too_many_streams" in body, f"the 429's body: {body[:300]!r}")
                # One of A's streams closes: A may open another.
                opened[0].close()
                wait_until("A's closed stream given back", lambda: open_stream(s.port, job, a)[1] == 200, 10, poll=0.1)
            finally:
                for sock in opened:
                    sock.close()

    def test_quotas_go_by_the_client_the_proxy_names(self):
        s = self.s
        with held_gate(self.url) as gate:
            one = {"X-Forwarded-For": "198.51.100.31"}
            st, _, body = post_json(s.port, headers=one)
            check(st == 202, f"client one's first job: {st} {body[:200]!r}")
            gate.wait_for_waiters(1)
            st, _, body = post_json(s.port, headers=one)
            check(st == 429 and error_code(body) == "too_many_jobs", f"client one's second job: {st} {body[:200]!r}")
            st, _, body = post_json(s.port, headers={"X-Forwarded-For": "198.51.100.32"})
            check(st == 202, f"client two behind the same proxy: {st} {body[:200]!r}")
            # The access log names the client, not the proxy (written once the answer is sent).
            wait_until("the access log names client two", lambda: '"client":"198.51.100.32"' in s.log_text(), 10)


class the_job_list(h2_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--max-request-bytes-per-key", "1MiB",
                                             name="list", work=cls.work))

    def test_large_requests_are_left_out_of_the_list(self):
        s = self.s
        # 20,000 values that match nothing: the job ends at once, its request (about 200 KB) stays.
        values = [f"no-such-category-{i:06d}" for i in range(20000)]
        job = s.create({"filters": {"category": {"in": values}}, "columns": ["id"]})
        s.wait_ended(job)
        r = s.request("GET", "/api/export?limit=1000")
        listed = next(j for j in r.json() if j["jobId"] == job)
        check(listed["request"] is None and listed["requestBytes"] > 100000, f"the list shows {str(listed)[:300]}")
        check(len(r.body) < 50000, f"the list is {len(r.body)} bytes")
        full = s.request("GET", "/api/export?limit=1000&requests=full")
        check(next(j for j in full.json() if j["jobId"] == job)["request"]["filters"]["category"]["in"] == values,
              "?requests=full does not bring the request")
        check(s.status(job)["request"]["filters"]["category"]["in"][:3] == values[:3], "the status lost the request")

    def test_stored_request_bytes_per_key_are_bounded(self):
        s = self.s
        values = [f"still-no-such-category-{i:06d}" for i in range(15000)]  # about 400 KB a request
        made = 0
        for attempt in range(10):
            r = s.request("POST", "/api/export", {"filters": {"category": {"in": values}}, "columns": ["id"]})
            if r.status != 202:
                break
            made += 1
            s.wait_ended(r.json()["jobId"])
        check(r.status == 429, f"request {made + 1} of about 400 KB each under a 1 MiB bound: {r!r}")
        err = r.json()["error"]
        check(err["code"] == "too_many_jobs" and "--max-request-bytes-per-key" in err["message"], f"the 429: {err}")
        check(1 <= made <= 3, f"{made} requests were stored")


class with_object_storage(h2_case):
    """A server with keys, S3 storage behind a recording proxy, a database URL with a password and a session
    token: everything a log could leak."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = cls.enterClassContext(s3_server(work=cls.work))
        cls.proxy = cls.enterClassContext(tcp_proxy(cls.s3.port))
        os.environ.update(S3_CREDENTIALS)
        os.environ["AWS_SESSION_TOKEN"] = SESSION_TOKEN
        cls.addClassCleanup(os.environ.pop, "AWS_SESSION_TOKEN", None)
        parts = urlsplit(cls.url)
        cls.secret_url = parts._replace(netloc=f"{parts.username}:{DB_PASSWORD}@{parts.hostname}:{parts.port}").geturl()
        keys = write_private(os.path.join(cls.work, "s3-keys"), KEY + "\n")
        cls.s = cls.enterClassContext(server(BINARY, cls.secret_url, "--api-key-file", keys, "--storage",
                                             "s3://exports/h2", "--s3-endpoint", f"http://127.0.0.1:{cls.proxy.port}",
                                             name="s3", work=cls.work, key=KEY))
        cls.job = cls.s.create({"columns": ["id", "email"]})
        cls.status = cls.s.wait_completed(cls.job, 120)
        cls.expected = copy_csv(cls.url, "SELECT id, email FROM records ORDER BY id")

    def test_file_path_is_no_server_path(self):
        check(self.status["filePath"] == f"s3://exports/h2/{self.job}", f"filePath {self.status['filePath']!r}")
        with server(BINARY, self.url, name="local-path", work=self.work) as local:
            job = local.create({"columns": ["id"]})
            st = local.wait_completed(job)
            check(st["filePath"] == f"{job}.csv", f"filePath {st['filePath']!r} is a server path")

    def test_healthz_is_terse_and_cached(self):
        s, proxy = self.s, self.proxy
        st, _, body = exact_request(s.port, "GET", "/healthz")
        check(st == 200 and json.loads(body) == {"status": "ok"}, f"/healthz without a key: {st} {body!r}")
        st, _, body = exact_request(s.port, "GET", "/healthz", headers={"Authorization": f"Bearer {KEY}"})
        detailed = json.loads(body)
        check(st == 200 and detailed.get("storage") == "reachable" and "version" in detailed, f"with a key: {body!r}")
        heads = proxy.requests_seen().count(b"HEAD ")
        t0 = time.monotonic()
        for _ in range(50):
            exact_request(s.port, "GET", "/healthz")
        took = time.monotonic() - t0
        more = proxy.requests_seen().count(b"HEAD ") - heads
        print(f"    50 probes in {took:.2f} s: {more} HEAD request(s) to the object store", flush=True)
        check(more <= took + 2, f"50 probes in {took:.2f} s sent {more} HEADs to the object store")

    def test_a_presigned_url_expires_no_later_than_its_link(self):
        s = self.s
        link = s.status(self.job)["downloadUrl"]
        r = s.request("GET", link, key="")
        check(r.status == 302, f"the signed link: {r!r}")
        presigned = parse_qs(urlsplit(r.header("Location")).query)
        check(int(presigned["X-Amz-Expires"][0]) > 3000, f"a fresh link's presigned URL: {presigned}")
        # A link of the same server that expires in a minute: signed here with the server's secret.
        with open(os.path.join(s.data_dir, "secret"), "rb") as f:
            secret = f.read()
        expires = int(time.time()) + 60
        signature = hmac.new(secret, f"download\n{self.job}\n{expires}".encode(), hashlib.sha256).hexdigest()
        r = s.request("GET", f"/api/export/{self.job}/download?expires={expires}&signature={signature}", key="")
        check(r.status == 302, f"a one-minute link: {r!r}")
        presigned = parse_qs(urlsplit(r.header("Location")).query)
        check(int(presigned["X-Amz-Expires"][0]) <= 60, f"a one-minute link's presigned URL lives longer: {presigned}")
        check(presigned.get("X-Amz-Security-Token") == [SESSION_TOKEN], f"no session token in {presigned}")
        check(b"X-Amz-Security-Token: " + SESSION_TOKEN.encode() in self.proxy.requests_seen()
              or b"x-amz-security-token: " + SESSION_TOKEN.encode() in self.proxy.requests_seen(),
              "the uploads did not carry the session token")

    def test_the_cli_follows_the_redirect_without_the_key(self):
        out = os.path.join(self.work, "from-s3.csv")
        before = len(self.proxy.requests_seen())
        p = run_client("--server", self.s.base, "--job", self.job, "--output", out, env={"PGEXPORT_API_KEY": KEY})
        check(p.returncode == 0, f"the client on an S3-backed server: exit {p.returncode}: {p.stderr.decode()}")
        with open(out, "rb") as f:
            check(f.read() == self.expected, "the downloaded file differs from COPY")
        seen = self.proxy.requests_seen()[before:]
        check(b"X-Amz-Signature=" in seen, "the client's GET never reached the object store")
        check(KEY.encode() not in seen and b"Bearer" not in seen, "the API key was sent to the object store")

    def test_no_secret_in_any_log_line(self):
        s = self.s
        # A run that uses them all: a signed link, a presigned URL, an upload, keys, the database's password.
        link = s.status(self.job)["downloadUrl"]
        signature = parse_qs(urlsplit(link).query)["signature"][0]
        r = s.request("GET", link, key="")
        presigned = parse_qs(urlsplit(r.header("Location")).query)["X-Amz-Signature"][0]
        s.request("GET", "/api/records?limit=1&signature=abc&password=hunter2")
        # The server's own lines (the harness writes its command line above each start).
        log = "\n".join(line for line in s.log_text().splitlines() if not line.startswith("===== start"))
        for name, secret in (("the database password", DB_PASSWORD), ("the API key", KEY),
                             ("a link's signature", signature), ("a presigned signature", presigned),
                             ("the AWS secret key", S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] + "\""),
                             ("the session token", SESSION_TOKEN), ("a password in a query", "hunter2")):
            lines = [line for line in log.splitlines() if secret in line]
            check(not lines, f"{name} is in the log: {lines[:2]}")
        check("signature=REDACTED" in log, "the request log does not show where it redacted")


class files_and_settings(h2_case):
    def test_an_open_key_file_is_refused_and_a_command_line_key_warns(self):
        keys = write_private(os.path.join(self.work, "open-keys"), KEY + "\n", 0o644)
        p = subprocess.run([BINARY, "serve", "--listen", "127.0.0.1:0", "--database", self.url, "--data-dir",
                            os.path.join(self.work, "open-keys-data"), "--api-key-file", keys],
                           capture_output=True, text=True, timeout=60, env=server_env())
        check(p.returncode != 0 and "open to other users" in p.stderr, f"a key file of mode 0644: {p.returncode} {p.stderr!r}")
        with server(BINARY, self.url, "--api-key", KEY, name="cmdline-key", work=self.work) as s:
            events = s.log_events("api_key_on_command_line")
            check(events and events[0]["level"] == "warning", "no warning about --api-key on the command line")


class search_path(unittest.TestCase):
    def test_a_shadowing_table_is_not_exported(self):
        with scratch_database("pgexport_h2_search_path") as url, tempfile.TemporaryDirectory() as work:
            seed(BINARY, url, 2000)
            name = urlsplit(url).path.lstrip("/")
            psql(url, f'CREATE SCHEMA shadow; ALTER DATABASE "{name}" SET search_path = shadow, public')
            with server(BINARY, url, "--chunk-rows", "500", work=work) as s:
                # Someone who may create objects in an earlier schema of the search path, after the start.
                psql(url, "CREATE TABLE shadow.records (LIKE public.records); "
                          "INSERT INTO shadow.records SELECT * FROM public.records WHERE id <= 10; "
                          "UPDATE shadow.records SET email = 'stolen@evil.example'")
                job = s.create({"columns": ["id", "email"]})
                s.wait_completed(job)
                expected = copy_csv(url, "SELECT id, email FROM public.records ORDER BY id")
                got = s.download(job)
                check(got == expected, f"the export is not public.records': {got[:200]!r}")
                r = s.request("GET", "/api/records?limit=3&columns=id,email")
                check(r.status == 200 and b"evil" not in r.body, f"the listing reads the shadow: {r!r}")


class the_cli(h2_case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s = cls.enterClassContext(server(BINARY, cls.url, name="cli", work=cls.work))
        cls.expected = copy_csv(cls.url, "SELECT id, name FROM records ORDER BY id")

    def test_https_with_the_system_ca_store(self):
        cert, key = make_certificate(self.work)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        with tcp_proxy(self.s.port, tls=tls) as front:
            out = os.path.join(self.work, "over-tls.csv")
            server_url = f"https://localhost:{front.port}"
            p = run_client("--server", server_url, "--columns", "id,name", "--output", out, env={"SSL_CERT_FILE": cert})
            check(p.returncode == 0, f"https:// with the certificate trusted: exit {p.returncode}: {p.stderr.decode()}")
            with open(out, "rb") as f:
                check(f.read() == self.expected, "the file over TLS differs from COPY")
            # Not trusted: refused before anything is sent.
            jobs = len(self.s.jobs())
            p = run_client("--server", server_url, "--columns", "id", "--output", os.path.join(self.work, "untrusted.csv"),
                           env={"SSL_CERT_FILE": os.path.join(self.work, "no-such-ca.pem"), "SSL_CERT_DIR": self.work})
            check(p.returncode == 1 and b"certificate" in p.stderr, f"an untrusted certificate: {p.returncode} {p.stderr!r}")
            check(len(self.s.jobs()) == jobs, "a job was created through an untrusted connection")

    def test_ipv6_server_in_brackets(self):
        port = free_port()
        with server(BINARY, self.url, name="v6", work=self.work, start=False) as v6:
            v6.port = port
            log_path = v6.log_path
            with open(log_path, "ab") as log:
                # The other server's data directory: instances on one database share one (either may run
                # the job).
                v6.process = subprocess.Popen([BINARY, "serve", "--listen", f"[::1]:{port}", "--database", self.url,
                                               "--data-dir", self.s.data_dir],
                                              stdout=log, stderr=log, env=server_env(), cwd=self.work)
            wait_until("the [::1] server ready", lambda: _ready_v6(port, v6), 30, poll=0.05)
            out = os.path.join(self.work, "v6.csv")
            p = run_client("--server", f"http://[::1]:{port}", "--columns", "id,name", "--output", out)
            check(p.returncode == 0, f"--server http://[::1]:{port}: exit {p.returncode}: {p.stderr.decode()}")
            with open(out, "rb") as f:
                check(f.read() == self.expected, "the file from the IPv6 server differs from COPY")

    def test_an_existing_output_is_kept_without_force(self):
        out = os.path.join(self.work, "precious.csv")
        with open(out, "w") as f:
            f.write("yesterday's report\n")
        jobs = len(self.s.jobs())
        p = run_client("--server", self.s.base, "--columns", "id,name", "--output", out)
        check(p.returncode == 2 and b"--force" in p.stderr, f"an existing output: exit {p.returncode}: {p.stderr!r}")
        with open(out) as f:
            check(f.read() == "yesterday's report\n", "the existing file was replaced")
        check(len(self.s.jobs()) == jobs, "a job was created for an output that cannot be written")
        p = run_client("--server", self.s.base, "--columns", "id,name", "--output", out, "--force")
        check(p.returncode == 0, f"--force: exit {p.returncode}: {p.stderr.decode()}")
        with open(out, "rb") as f:
            check(f.read() == self.expected, "--force did not replace the file with the export")

    def test_symlinks_in_a_shared_directory_are_never_followed(self):
        shared = os.path.join(self.work, "shared-tmp")
        os.makedirs(shared, exist_ok=True)
        os.chmod(shared, 0o1777)  # like /tmp: everyone may create names here
        victim = os.path.join(self.work, "victim.txt")  # a file of the user running the client
        with open(victim, "w") as f:
            f.write("the victim's file\n")
        job = self.s.create({"columns": ["id", "name"]})
        self.s.wait_completed(job)
        out = os.path.join(shared, "report.csv")
        # Another user's links, laid in advance at every name the client will write: the record's temporary
        # name (the old client's fixed one), the record, and the part with a record that names the job.
        for name in (".part.json.tmp", ".part"):
            os.symlink(victim, out + name)
        with open(out + ".part.json", "w") as f:
            json.dump({"jobId": job}, f)
        old_umask = os.umask(0o022)
        try:
            p = run_client("--server", self.s.base, "--job", job, "--output", out)
        finally:
            os.umask(old_umask)
        with open(victim) as f:
            check(f.read() == "the victim's file\n", "the client wrote through a symbolic link into another file")
        check(p.returncode == 0, f"exit {p.returncode}: {p.stderr.decode()}")
        with open(out, "rb") as f:
            check(f.read() == self.expected, "the file differs from COPY")
        mode = os.stat(out).st_mode & 0o777
        check(mode == 0o600, f"the saved file has mode {oct(mode)} under umask 022")
        check(not os.path.islink(out), "the output is a link")


def _ready_v6(port, v6):
    v6.check_alive("while starting on [::1]")
    try:
        return exact_request(port, "GET", "/api/records?limit=1", host="::1", headers={"Host": f"[::1]:{port}"}, timeout=3)[0] == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
