#!/usr/bin/env python3
"""What a hostile web page, a careless client or a crowd of idle connections can do to `pgexport serve`.

    hardening.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

- DNS rebinding: a request whose Host is another name gets 421 misdirected_request (the probes
  /healthz and /metrics excepted); --allowed-host adds a name.
- CSRF: a state-changing request with another site's Origin gets 403 forbidden_origin; a POST that is
  not JSON gets 415 unsupported_media_type; the server's own Origin is accepted.
- HEAD sends the GET's headers and no body, on every kind of route.
- Downloads: a strong ETag; If-Range with it keeps the range (206), with anything else sends all (200).
- The job list's limit is parsed strictly.
- 2,000 idle connections do not keep a new client out: the longest-idle ones are closed for it.
One line per case, then `N passed, M failed`."""
import http.client
import json
import os
import resource
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import binary, check, copy_csv, exact_request, main, scratch_database, seed, server

BINARY = binary()


def call(srv, method, path, body=None, headers=None, timeout=30):
    """(status, headers as a dict with lower-case names, body bytes); headers are sent exactly as given."""
    return exact_request(srv.port, method, path, body, headers, timeout=timeout)


def check_error(result, status, code, what):
    st, headers, body = result
    check(st == status, f"{what}: expected {status}, got {st}: {body[:300]!r}")
    check(headers.get("content-type", "").startswith("application/json"), f"{what}: Content-Type {headers}")
    err = json.loads(body)["error"]
    check(err["code"] == code, f"{what}: code {err['code']!r}, expected {code!r}")
    check(len(err["message"]) > 20, f"{what}: the message says too little: {err['message']!r}")


def create(srv, body='{"columns": ["id", "name"]}', headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return call(srv, "POST", "/api/export", body, h)


class hardening(unittest.TestCase):
    """Each server has a database of its own: two servers on one database would share its jobs, and they
    do not share a data directory here."""

    @classmethod
    def setUpClass(cls):
        cls.url = cls.enterClassContext(scratch_database("pgexport_hardening"))
        url2 = cls.enterClassContext(scratch_database("pgexport_hardening_named"))
        for u in (cls.url, url2):
            seed(BINARY, u, 3000)
        cls.srv = cls.enterClassContext(server(BINARY, cls.url, "--max-connections", "500"))
        cls.srv_named = cls.enterClassContext(server(BINARY, url2, "--allowed-host", "exports.example.org"))

    def test_dns_rebinding(self):
        srv, srv_named = self.srv, self.srv_named
        for path in ("/api/records?limit=1", "/api/export", "/", "/api/openapi.json"):
            check_error(call(srv, "GET", path, headers={"Host": f"evil.example:{srv.port}"}), 421, "misdirected_request",
                        f"GET {path} with Host evil.example")
        check_error(call(srv, "GET", "/api/records", headers={"Host": "localhost.evil.example"}), 421,
                    "misdirected_request", "a name that starts with localhost")
        for host in (f"localhost:{srv.port}", f"127.0.0.1:{srv.port}", "LOCALHOST", f"[::1]:{srv.port}"):
            st, _, body = call(srv, "GET", "/api/records?limit=1", headers={"Host": host})
            check(st == 200, f"Host {host}: {st} {body[:200]!r}")
        # The probes answer whatever name a load balancer uses.
        st, _, _ = call(srv, "GET", "/healthz", headers={"Host": "10.1.2.3:8080"})
        check(st == 200, f"/healthz with an unknown Host: {st}")
        # --allowed-host adds a name, to that server only.
        st, _, _ = call(srv_named, "GET", "/api/records?limit=1", headers={"Host": "exports.example.org:443"})
        check(st == 200, f"--allowed-host exports.example.org: {st}")
        check_error(call(srv, "GET", "/api/records?limit=1", headers={"Host": "exports.example.org"}), 421,
                    "misdirected_request", "a name allowed on another server only")

    def test_csrf(self):
        srv = self.srv
        # The three requests a page of evil.example can make without a CORS preflight, and their JSON twin.
        check_error(create(srv, headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type",
                    "POST with Content-Type text/plain")
        check_error(create(srv, body="filters=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
                    "unsupported_media_type", "a form post")
        check_error(create(srv, body='{}', headers={"Content-Type": None}), 415, "unsupported_media_type",
                    "a JSON body without Content-Type")
        check_error(create(srv, headers={"Origin": "http://evil.example"}), 403, "forbidden_origin",
                    "POST from evil.example")
        check_error(create(srv, headers={"Origin": "null"}), 403, "forbidden_origin", "POST from a sandboxed page")
        st, _, body = create(srv, headers={"Origin": f"http://localhost:{srv.port}"})
        check(st == 202, f"POST from the server's own page: {st} {body[:200]!r}")
        job = json.loads(body)["jobId"]
        check_error(call(srv, "DELETE", f"/api/export/{job}", headers={"Origin": "https://evil.example"}), 403,
                    "forbidden_origin", "DELETE from evil.example")
        # Reading stays open to any Origin (the answer is not readable cross-origin without CORS anyway).
        st, _, _ = call(srv, "GET", f"/api/export/{job}/status", headers={"Origin": "http://evil.example"})
        check(st == 200, f"GET status with a foreign Origin: {st}")
        # A POST without a body and without Content-Type still creates the default export (nothing to misread).
        st, _, body = call(srv, "POST", "/api/export")
        check(st == 202, f"an empty POST: {st} {body[:200]!r}")
        srv.wait_completed(job)

    def test_head_has_no_body(self):
        srv = self.srv
        st, _, body = create(srv)
        job = json.loads(body)["jobId"]
        srv.wait_completed(job)
        for path in ("/healthz", "/", "/app.js", "/api/openapi.json", f"/api/export/{job}/status", "/api/export",
                     f"/api/export/{job}/download", "/api/records?limit=3"):
            g_st, g_h, g_body = call(srv, "GET", path)
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            conn.request("HEAD", path)
            r = conn.getresponse()
            h_body = r.read()
            # A body after a HEAD answer would be read as the start of the next response: look for it.
            conn.sock.settimeout(0.5)
            try:
                extra = conn.sock.recv(100)
            except (socket.timeout, BlockingIOError):
                extra = b""
            conn.close()
            check(r.status == g_st, f"HEAD {path}: {r.status}, GET gave {g_st}")
            check(h_body == b"" and extra == b"", f"HEAD {path} sent a body: {(h_body + extra)[:100]!r}")
            if path not in ("/healthz", "/api/export", f"/api/export/{job}/status"):  # these change between calls
                check(r.getheader("Content-Length") == g_h.get("content-length"),
                      f"HEAD {path}: Content-Length {r.getheader('Content-Length')} against GET's {g_h.get('content-length')}")
        st, h, body = call(srv, "HEAD", f"/api/export/{job}")
        check(st == 405 and body == b"" and "DELETE" in h.get("allow", ""), f"HEAD on a DELETE-only route: {st} {h} {body!r}")

    def test_etag_and_if_range(self):
        srv, url = self.srv, self.url
        st, _, body = create(srv, '{"columns": ["id", "email"]}')
        job = json.loads(body)["jobId"]
        srv.wait_completed(job)
        expected = copy_csv(url, "SELECT id, email FROM records ORDER BY id")
        st, h, whole = call(srv, "GET", f"/api/export/{job}/download")
        check(st == 200 and whole == expected, f"download: {st}, {len(whole)} bytes against {len(expected)}")
        etag = h.get("etag", "")
        check(etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/"), f"ETag {etag!r} is not strong")
        st, h2, part = call(srv, "GET", f"/api/export/{job}/download", headers={"Range": "bytes=100-", "If-Range": etag})
        check(st == 206 and part == expected[100:], f"If-Range with the ETag: {st}, {len(part)} bytes")
        check(h2.get("content-range") == f"bytes 100-{len(expected) - 1}/{len(expected)}", f"Content-Range {h2}")
        for other in ('"another-job-123"', "W/" + etag, "Tue, 15 Nov 1994 08:12:31 GMT"):
            st, _, again = call(srv, "GET", f"/api/export/{job}/download", headers={"Range": "bytes=100-", "If-Range": other})
            check(st == 200 and again == expected, f"If-Range {other!r}: {st}, {len(again)} bytes (expected all)")

    def test_strict_list_limit(self):
        srv = self.srv
        for bad in ("limit=5x", "xlimit=5", "limit=5&x=1", "limit=", "limit=0x5"):
            check_error(call(srv, "GET", f"/api/export?{bad}"), 400, "invalid_request", f"GET /api/export?{bad}")
        st, _, body = call(srv, "GET", "/api/export?limit=1")
        check(st == 200 and len(json.loads(body)) <= 1, f"limit=1: {st}")

    def test_idle_connections_do_not_starve(self):
        srv = self.srv
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 2100
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        n = min(2000, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100)
        check(n >= 1000, f"this machine allows {n} descriptors only")
        idle = []
        try:
            for _ in range(n):
                s = socket.socket()
                s.connect(("127.0.0.1", srv.port))  # and sends nothing
                idle.append(s)
            # A new client is answered, and soon: the server closes idle connections to make room.
            for i in range(5):
                start = time.time()
                st, _, body = call(srv, "GET", "/api/records?limit=1", timeout=10)
                took = time.time() - start
                check(st == 200, f"a new client behind {n} idle connections: {st} {body[:200]!r}")
                print(f"    new client #{i + 1} answered in {took * 1000:.1f} ms behind {n} idle connections", flush=True)
                # Generous for a loaded machine and a sanitized build; a server that let idle connections
                # starve a new one would not answer within the call's 10 s at all.
                check(took < 3 * harness.SLOWDOWN, f"a new client behind {n} idle connections waited {took:.2f} s")
            st, _, text = call(srv, "GET", "/metrics")
            m = [l for l in text.decode().splitlines() if l.startswith("pgexport_http_connections ")]
            check(m and int(m[0].split()[1]) <= 600, f"open connections past the cap: {m}")
        finally:
            for s in idle:
                s.close()

    def test_the_server_is_still_running(self):
        check(self.srv.process.poll() is None, "the server died:\n" + self.srv.log_tail())


if __name__ == "__main__":
    main()
