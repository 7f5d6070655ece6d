#!/usr/bin/env python3
"""--storage s3://: finished exports in S3-compatible object storage (s3rver), checked with awscli.

Byte identity with PostgreSQL's COPY over more than three parts; kill -9 mid-upload and a restart; the
object store killed mid-upload and back; cancel; presigned downloads (302); retention and DELETE removing
the object. Usage: storage.py path/to/pgexport (PGEXPORT_TEST_DATABASE_URL set, as tools/test does).

s3rver 3.7 does not verify SigV4 signatures nor implement ListParts, ListMultipartUploads or
AbortMultipartUpload: the presigned URLs are checked against an independent SigV4 implementation below,
and cancel is checked by the object never appearing and the abort being sent."""
import datetime
import gzip
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_support import (S3_CREDENTIALS, call, copy_csv, psql, s3_server, scratch_database,  # noqa: E402
                         server, wait_until)

BINARY = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else None
ROWS = 300_000  # about 38 MB of CSV: eight parts of 5 MiB
PART = 5 << 20
ALL_ROWS = "SELECT * FROM records ORDER BY id"


def presigned_signature(url, secret, region):
    """The SigV4 query signature that `url` should carry, computed here from the S3 reference
    (independently of pgexport's signer): what S3 itself compares with X-Amz-Signature."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"]
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")  # noqa: E731
    canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted((enc(k), v) for k, v in query))
    canonical = "\n".join(["GET", urllib.parse.quote(urllib.parse.unquote(parts.path), safe="/-_.~"), canonical_query,
                           f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"])
    stamp = dict(query)["X-Amz-Date"]
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for piece in (stamp[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, piece.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def redirect_of(base, path, method="GET"):
    """(status, Location) of a request that is not followed."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-X", method, "-w", "%{http_code} %{redirect_url}",
                          *(["-I"] if method == "HEAD" else []), base + path],
                         capture_output=True, text=True, check=True, timeout=30).stdout.split(" ", 1)
    return int(out[0]), out[1] if len(out) > 1 else ""


def curl_bytes(url):
    return subprocess.run(["curl", "-sf", url], capture_output=True, check=True, timeout=60).stdout


class storage_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._db = scratch_database("e2e_storage")
        cls.url = cls._db.__enter__()
        subprocess.run([BINARY, "seed", "--rows", str(ROWS), "--database", cls.url], check=True, capture_output=True)
        cls.expected = copy_csv(cls.url, ALL_ROWS)
        cls.s3 = s3_server()
        for k, v in S3_CREDENTIALS.items():
            os.environ[k] = v

    @classmethod
    def tearDownClass(cls):
        cls.s3.__exit__(None, None, None)
        cls._db.__exit__(None, None, None)

    def serve(self, *args, data_dir=None):
        return server(BINARY, self.url, "--storage", f"s3://{self.s3.bucket}/e2e", "--s3-endpoint",
                      self.s3.endpoint, "--s3-part-size", "5MiB", "--min-free-disk", "0", "--lease", "2s",
                      *args, data_dir=data_dir)

    def create(self, base, body="{}"):
        status, answer = call(base, "/api/export", "POST", body)
        self.assertEqual(status, 202, answer)
        return answer["jobId"]

    def wait_status(self, base, job, wanted, timeout=120):
        return wait_until(f"job {job} {wanted}",
                          lambda: (s := call(base, f"/api/export/{job}/status")[1])["status"] == wanted and s, timeout)

    def recorded_parts(self, job):
        text = psql(self.url, f"SELECT coalesce(upload->'parts', '[]') FROM export_jobs WHERE id = '{job}'").decode()
        return json.loads(text or "[]")

    def object_exists(self, key):
        try:
            self.s3.aws("head-object", "--bucket", self.s3.bucket, "--key", key)
            return True
        except subprocess.CalledProcessError as e:
            if b"404" in e.stderr or b"Not Found" in e.stderr:
                return False
            raise

    def check_parts(self, job, size):
        parts = self.recorded_parts(job)
        self.assertEqual([p["number"] for p in parts], list(range(1, len(parts) + 1)), "each part once, in order")
        self.assertEqual(sum(p["bytes"] for p in parts), size)
        self.assertTrue(all(p["bytes"] == PART for p in parts[:-1]), parts)
        return parts

    def test_object_is_copy_and_download_redirects(self):
        with self.serve() as s:
            job = self.create(s.base)
            status = self.wait_status(s.base, job, "completed")
            self.assertEqual(status["filePath"], f"s3://{self.s3.bucket}/e2e/{job}")
            self.assertEqual(status["downloadUrl"], f"/api/export/{job}/download")
            stored = self.s3.get_object(f"e2e/{job}")
            self.assertEqual(stored, self.expected, "the object is byte for byte PostgreSQL's COPY")
            self.assertGreater(len(self.check_parts(job, len(stored))), 3)
            self.assertFalse([n for n in os.listdir(s.data_dir) if n.startswith(job)], "no local file left")

            code, location = redirect_of(s.base, f"/api/export/{job}/download")
            self.assertEqual(code, 302)
            self.assertTrue(location.startswith(f"{self.s3.endpoint}/{self.s3.bucket}/e2e/{job}?"), location)
            self.assertEqual(curl_bytes(location), self.expected)
            head_code, head_location = redirect_of(s.base, f"/api/export/{job}/download", "HEAD")
            self.assertEqual(head_code, 302)
            self.assertTrue(head_location.startswith(self.s3.endpoint), head_location)

            # The signature is S3's own (computed independently here); any change to the link breaks it.
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
            secret, region = S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], S3_CREDENTIALS["AWS_REGION"]
            self.assertEqual(presigned_signature(location, secret, region), query["X-Amz-Signature"])
            self.assertEqual(query["X-Amz-Expires"], "3600")
            for altered in (location.replace("X-Amz-Expires=3600", "X-Amz-Expires=86400"),
                            location.replace(f"/e2e/{job}", "/e2e/other")):
                self.assertNotEqual(presigned_signature(altered, secret, region), query["X-Amz-Signature"])

    def test_gzip_and_delete_remove_the_object(self):
        with self.serve() as s:
            job = self.create(s.base, '{"compression": "gzip"}')
            self.wait_status(s.base, job, "completed")
            self.assertEqual(gzip.decompress(self.s3.get_object(f"e2e/{job}")), self.expected)
            code, location = redirect_of(s.base, f"/api/export/{job}/download")
            self.assertEqual(code, 302)
            self.assertIn("filename%3D%22export-" + job + ".csv.gz%22", location)
            status, _ = call(s.base, f"/api/export/{job}", "DELETE")
            self.assertEqual(status, 204)
            self.assertFalse(self.object_exists(f"e2e/{job}"))

    def test_retention_deletes_the_object(self):
        with self.serve("--retention", "2s") as s:
            job = self.create(s.base)
            self.wait_status(s.base, job, "completed")
            self.assertTrue(self.object_exists(f"e2e/{job}"))
            self.wait_status(s.base, job, "expired", timeout=60)
            wait_until("the expired object gone", lambda: not self.object_exists(f"e2e/{job}"), 30, poll=0.2)
            # 410 while the expired record is kept (another retention: 2 s here), 404 after; never a 302.
            status, body = call(s.base, f"/api/export/{job}/download")
            self.assertIn(status, (410, 404), body)

    def part_file(self, upload_id, number):
        """s3rver's file of a part of the upload, once the part's request has begun, else None."""
        for root, _dirs, files in os.walk(os.path.join(self.s3.dir, self.s3.bucket)):
            if os.path.basename(root) == upload_id and str(number) in files:
                return os.path.join(root, str(number))
        return None

    def hold_mid_upload(self, s, job):
        """Freezes s3rver (SIGSTOP) once part 2 of the job's upload has begun: part 1 is then acknowledged and
        recorded (the runner records a part before it sends the next), the upload stands still."""
        def upload_id():
            text = psql(self.url, f"SELECT upload->>'uploadId' FROM export_jobs WHERE id = '{job}'").decode().strip()
            return text or None
        upload = wait_until("the upload started", upload_id, 120, poll=0.01)
        wait_until("part 2 begun", lambda: self.part_file(upload, 2), 120, poll=0.002)
        self.s3.process.send_signal(signal.SIGSTOP)
        done = len(self.recorded_parts(job))
        self.assertGreaterEqual(done, 1)
        self.assertLess(done * PART, len(self.expected), "the upload should have been caught before its end")
        return done

    def test_kill_9_mid_upload_resumes_after_the_recorded_parts(self):
        work = None
        try:
            s = self.serve()
            work = s.data_dir
            job = self.create(s.base)
            done = self.hold_mid_upload(s, job)
            s.process.kill()  # kill -9 while a part is on its way
            s.process.wait(10)
            self.s3.process.send_signal(signal.SIGCONT)
            first_log = s.log_tail(100000)
        finally:
            self.s3.process.send_signal(signal.SIGCONT)
        with self.serve(data_dir=work) as again:
            self.wait_status(again.base, job, "completed")
            log = again.log_tail(100000)
            resumed = [json.loads(line) for line in log.splitlines() if '"s3_upload_resumed"' in line]
            self.assertTrue(resumed, log)
            self.assertGreaterEqual(resumed[0]["parts_done"], done)
            started = [line for line in (first_log + log).splitlines() if '"s3_upload_started"' in line]
            self.assertEqual(len(started), 1, "one upload, resumed, not a second one")
            stored = self.s3.get_object(f"e2e/{job}")
            self.assertEqual(stored, self.expected)
            self.check_parts(job, len(stored))
        s.__exit__(None, None, None)

    def test_store_down_mid_upload_job_waits_then_completes(self):
        with self.serve() as s:
            job = self.create(s.base)
            self.hold_mid_upload(s, job)
            self.s3.stop()
            try:
                wait_until("the job waiting for the store",
                           lambda: '"class":"unavailable"' in s.log_tail(100000) and "object storage" in s.log_tail(100000),
                           60, poll=0.1)
                status, health = call(s.base, "/healthz")
                self.assertEqual((status, health["status"], health["storage"]), (200, "degraded", "unreachable"), health)
                self.assertEqual(call(s.base, f"/api/export/{job}/status")[1]["status"], "running")
            finally:
                self.s3.start()
            self.wait_status(s.base, job, "completed", timeout=120)
            self.assertEqual(self.s3.get_object(f"e2e/{job}"), self.expected)
            self.assertEqual(call(s.base, "/healthz")[1]["status"], "ok")

    def test_cancel_mid_upload_aborts_it(self):
        with self.serve() as s:
            job = self.create(s.base)
            try:
                self.hold_mid_upload(s, job)
                status, body = call(s.base, f"/api/export/{job}", "DELETE")
                self.assertEqual(status, 200, body)
            finally:
                self.s3.process.send_signal(signal.SIGCONT)
            wait_until("the upload aborted", lambda: '"s3_upload_aborted"' in s.log_tail(100000), 60, poll=0.1)
            self.assertEqual(call(s.base, f"/api/export/{job}/status")[1]["status"], "cancelled")
            self.assertFalse(self.object_exists(f"e2e/{job}"), "a cancelled job's object never appears")


if __name__ == "__main__":
    if not BINARY:
        raise SystemExit("usage: storage.py path/to/pgexport")
    unittest.main(verbosity=2)
