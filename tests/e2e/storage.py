#!/usr/bin/env python3
"""--storage s3://: finished exports in S3-compatible object storage (s3rver), checked with awscli.

    storage.py <pgexport binary>     (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

- the object is byte for byte PostgreSQL's COPY, uploaded in more than three parts (5 MiB), each recorded
  once and in order; gzip and a parallel export (three slices) too; no local file is left;
- GET and HEAD of the download answer 302 to a presigned URL that curl fetches; its signature is checked
  against an independent SigV4 implementation below (s3rver 3.7 checks no V4 signature), and altered
  links no longer carry a valid one;
- kill -9 mid-upload, then a restart: one upload, resumed after its recorded parts, and the same object;
- s3rver killed mid-upload: the job waits (running, /healthz degraded), then completes when it is back;
- cancel mid-upload: the abort is sent (s3rver implements neither AbortMultipartUpload nor
  ListMultipartUploads) and the object never appears;
- retention and DELETE remove the object;
- a Parquet export's object (row groups ended by --parquet-row-group-bytes) is the same bytes as the same
  export to the data directory;
- an upload completed but not recorded (a crash in between) is found, not uploaded again.
"Mid-upload" is a known point, not a guess: s3rver is frozen (SIGSTOP) once part 2 of the job's upload
has begun, when part 1 is acknowledged and recorded (the runner records a part before it sends the next)."""
import gzip
import json
import hashlib
import hmac
import os
import subprocess
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (S3_CREDENTIALS, binary, copy_csv, held_gate, install_gate, main, psql, s3_server,  # noqa: E402
                     scratch_database, seed, server, wait_until)

BINARY = binary()
ROWS = 300_000  # about 38 MB of CSV: eight parts of 5 MiB
PART = 5 << 20
HELD_AT = 200_000  # the gated view's rows up to here export at once; the next one waits while the gate is held
WAIT = 120  # seconds any state may take to come about on a loaded machine


def presigned_signature(url, secret, region):
    """The SigV4 query signature that `url` should carry, computed here from the S3 reference
    (independently of pgexport's signer): what S3 itself compares with X-Amz-Signature."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"]

    def enc(text):
        return urllib.parse.quote(text, safe="-_.~")
    canonical_query = "&".join(f"{k}={enc(v)}" for k, v in sorted((enc(k), v) for k, v in query))
    canonical = "\n".join(["GET", urllib.parse.quote(urllib.parse.unquote(parts.path), safe="/-_.~"), canonical_query,
                           f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"])
    stamp = dict(query)["X-Amz-Date"]
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for piece in (stamp[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, piece.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def curl_bytes(url):
    return subprocess.run(["curl", "-sf", url], capture_output=True, check=True, timeout=60).stdout


class storage_test(unittest.TestCase):
    """One scratch database of ROWS demo rows and one s3rver for every case; each case its own server."""

    @classmethod
    def setUpClass(cls):
        cls.url = cls.enterClassContext(scratch_database("e2e_storage"))
        seed(BINARY, cls.url, ROWS)
        cls.expected = copy_csv(cls.url, "SELECT * FROM records ORDER BY id")
        install_gate(cls.url, open_below=HELD_AT)
        cls.s3 = cls.enterClassContext(s3_server())
        os.environ.update(S3_CREDENTIALS)  # what the servers' environment passes on

    def tearDown(self):
        self.s3.thaw()
        if self.s3.process.poll() is not None:
            self.s3.start()

    def serve(self, *args, data_dir=None):
        s = server(BINARY, self.url, "--storage", f"s3://{self.s3.bucket}/e2e", "--s3-endpoint", self.s3.endpoint,
                   "--s3-part-size", "5MiB", "--min-free-disk", "0", "--lease", "2s", *args, data_dir=data_dir)
        self.addCleanup(s.close)
        return s

    def recorded_parts(self, job):
        text = psql(self.url, f"SELECT coalesce(upload->'parts', '[]') FROM export_jobs WHERE id = '{job}'").decode()
        return json.loads(text or "[]")

    def check_parts(self, job, size):
        parts = self.recorded_parts(job)
        self.assertEqual([p["number"] for p in parts], list(range(1, len(parts) + 1)), "each part once, in order")
        self.assertEqual(sum(p["bytes"] for p in parts), size)
        self.assertTrue(all(p["bytes"] == PART for p in parts[:-1]), parts)
        return parts

    def part_file(self, upload_id, number):
        """s3rver's file of a part of the upload, once the part's request has begun, else None."""
        for root, _dirs, files in os.walk(os.path.join(self.s3.dir, self.s3.bucket)):
            if os.path.basename(root) == upload_id and str(number) in files:
                return os.path.join(root, str(number))
        return None

    def hold_mid_upload(self, job):
        """Freezes s3rver once part 2 of the job's upload has begun; the parts recorded then."""
        def upload_id():
            text = psql(self.url, f"SELECT upload->>'uploadId' FROM export_jobs WHERE id = '{job}'").decode().strip()
            return text or None
        upload = wait_until("the upload started", upload_id, WAIT, poll=0.01)
        wait_until("part 2 begun", lambda: self.part_file(upload, 2), WAIT, poll=0.002)
        self.s3.freeze()
        done = len(self.recorded_parts(job))
        self.assertGreaterEqual(done, 1)
        self.assertLess(done * PART, len(self.expected), "the upload should have been caught before its end")
        return done

    def test_object_is_copy_and_download_redirects(self):
        s = self.serve()
        job = s.create()
        st = s.wait_completed(job, WAIT)
        self.assertEqual(st["filePath"], f"s3://{self.s3.bucket}/e2e/{job}")
        self.assertEqual(st["downloadUrl"], f"/api/export/{job}/download")
        stored = self.s3.get_object(f"e2e/{job}")
        self.assertEqual(stored, self.expected, "the object is byte for byte PostgreSQL's COPY")
        self.assertGreater(len(self.check_parts(job, len(stored))), 3)
        self.assertFalse([n for n in os.listdir(s.data_dir) if n.startswith(job)], "no local file left")

        r = s.request("GET", f"/api/export/{job}/download")
        self.assertEqual(r.status, 302, r)
        location = r.header("Location")
        self.assertTrue(location.startswith(f"{self.s3.endpoint}/{self.s3.bucket}/e2e/{job}?"), location)
        self.assertEqual(curl_bytes(location), self.expected)
        head = s.request("HEAD", f"/api/export/{job}/download")
        self.assertEqual((head.status, head.body), (302, b""))
        self.assertTrue(head.header("Location").startswith(self.s3.endpoint))

        # The signature is S3's own (computed independently here); any change to the link breaks it.
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        secret, region = S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], S3_CREDENTIALS["AWS_REGION"]
        self.assertEqual(presigned_signature(location, secret, region), query["X-Amz-Signature"])
        self.assertEqual(query["X-Amz-Expires"], "3600")
        for altered in (location.replace("X-Amz-Expires=3600", "X-Amz-Expires=86400"),
                        location.replace(f"/e2e/{job}", "/e2e/other")):
            self.assertNotEqual(presigned_signature(altered, secret, region), query["X-Amz-Signature"])

    def test_parts_leave_the_local_disk_while_the_export_runs(self):
        # Held at a known row: the parts the checkpoints vouch for are in the store before the export ends,
        # and their bytes are gone from the local disk (a hole where they were; the file keeps its length).
        s = self.serve("--table", "records_gated:id")
        with held_gate(self.url) as gate:
            job = s.create({"table": "records_gated"})
            gate.wait_for_waiters(1)
            names = wait_until("the partial file", lambda: [n for n in os.listdir(s.data_dir)
                                                             if n.startswith(job) and n.endswith(".part")], WAIT)
            self.assertEqual(len(names), 1, names)
            part = os.path.join(s.data_dir, names[0])
            written = os.stat(part).st_size
            self.assertGreater(written, 4 * PART, "the gate should hold the job after several parts")
            # Every whole part of the written bytes goes up (the last checkpoint vouches for all of them).
            wait_until("the upload caught up with the checkpoint",
                       lambda: len(self.recorded_parts(job)) == written // PART, WAIT, poll=0.05)
            self.assertEqual(s.status(job)["status"], "running")
            on_disk = os.stat(part).st_blocks * 512
            print(f"    held at {written} bytes: {len(self.recorded_parts(job))} parts in the store,"
                  f" {on_disk} bytes on the local disk")
            self.assertLessEqual(on_disk, 2 * PART, "at most a part or two of the file on the local disk")
            self.assertLessEqual(on_disk, written - len(self.recorded_parts(job)) * PART + (1 << 20))
            gate.release()
            s.wait_completed(job, WAIT)
        stored = self.s3.get_object(f"e2e/{job}")
        self.assertEqual(stored, self.expected, "the object is byte for byte PostgreSQL's COPY")
        self.check_parts(job, len(stored))

    def test_gzip_and_delete_remove_the_object(self):
        s = self.serve()
        job = s.create({"compression": "gzip"})
        s.wait_completed(job, WAIT)
        self.assertEqual(gzip.decompress(self.s3.get_object(f"e2e/{job}")), self.expected)
        r = s.request("GET", f"/api/export/{job}/download")
        self.assertEqual(r.status, 302, r)
        self.assertIn("filename%3D%22export-" + job + ".csv.gz%22", r.header("Location"))
        self.assertEqual(s.request("DELETE", f"/api/export/{job}").status, 204)
        self.assertFalse(self.s3.exists(f"e2e/{job}"))

    def test_parquet_object_is_the_data_directorys_file(self):
        # Uncompressed pages, and row groups ended by --parquet-row-group-bytes 1MiB (rowGroupRows is far
        # above the rows): checkpoints vouch for whole row groups, parts go up between them, the footer last.
        args = ("--table", "records_gated:id", "--parquet-row-group-bytes", "1MiB")
        body = {"table": "records_gated", "format": "parquet",
                "parquet": {"compression": "none", "rowGroupRows": 10_000_000}}
        s = self.serve(*args)
        with held_gate(self.url) as gate:
            job = s.create(body)
            gate.wait_for_waiters(1)
            offsets = [int(o) for o in psql(self.url, "SELECT info->>'offset' FROM export_row_groups"
                                                      f" WHERE job_id = '{job}' ORDER BY ordinal").split()]
            self.assertGreater(len(offsets), 2, "row groups ended by their bytes")
            sizes = [b - a for a, b in zip(offsets, offsets[1:])]
            # The cap counts the page in progress by its estimate, a little above its bytes in the file.
            self.assertTrue(all((15 << 16) <= n <= (1 << 20) + (64 << 10) for n in sizes), sizes)
            gate.release()
            st = s.wait_completed(job, WAIT)
        stored = self.s3.get_object(f"e2e/{job}")
        self.assertEqual(len(stored), st["bytesWritten"])
        self.assertGreater(len(self.check_parts(job, len(stored))), 1)
        r = s.request("GET", f"/api/export/{job}/download")
        self.assertEqual(r.status, 302, r)
        self.assertIn("filename%3D%22export-" + job + ".parquet%22", r.header("Location"))
        self.assertFalse([n for n in os.listdir(s.data_dir) if n.startswith(job)], "no local file left")
        s.close()
        with server(BINARY, self.url, "--min-free-disk", "0", *args) as local:
            other = local.create(body)
            local.wait_completed(other, WAIT)
            r = local.request("GET", f"/api/export/{other}/download")
            self.assertEqual(r.status, 200, r)
        self.assertEqual(stored, r.body, "the object is the data directory's Parquet file, byte for byte")

    def test_parallel_slices_make_one_object(self):
        s = self.serve()
        job = s.create({"parallelism": 3})
        s.wait_completed(job, WAIT)
        stored = self.s3.get_object(f"e2e/{job}")
        self.assertEqual(stored, self.expected, "three slices, one object, PostgreSQL's COPY")
        self.check_parts(job, len(stored))
        self.assertFalse([n for n in os.listdir(s.data_dir) if n.startswith(job)], "no local file left")

    def test_retention_deletes_the_object(self):
        # Long enough to see the object first on a loaded machine (2 s was not); then the record is made one
        # retention old, and the next sweep (every quarter retention) expires the job.
        s = self.serve("--retention", "30s")
        job = s.create()
        s.wait_completed(job, WAIT)
        self.assertTrue(self.s3.exists(f"e2e/{job}"))
        psql(self.url, f"UPDATE export_jobs SET finished_at = finished_at - interval '30 seconds' WHERE id = '{job}'")

        def expired():  # the expired record is kept another retention; a slow poll may find it gone already
            r = s.request("GET", f"/api/export/{job}/status")
            return r.status == 404 or (r.status == 200 and r.json()["status"] == "expired")
        wait_until("the job expired", expired, WAIT, poll=0.2)
        wait_until("the expired object gone", lambda: not self.s3.exists(f"e2e/{job}"), 30, poll=0.2)
        # 410 while the expired record is kept (another retention), 404 after; never a 302.
        self.assertIn(s.request("GET", f"/api/export/{job}/download").status, (410, 404))

    def test_kill_9_mid_upload_resumes_after_the_recorded_parts(self):
        s = self.serve()
        job = s.create()
        done = self.hold_mid_upload(job)
        s.kill()  # kill -9 while a part is on its way
        self.s3.thaw()
        s.start()
        s.wait_completed(job, WAIT)
        resumed = s.events_since_start("s3_upload_resumed")
        self.assertTrue(resumed, s.log_tail())
        self.assertGreaterEqual(resumed[0]["parts_done"], done)
        self.assertEqual(len(s.log_events("s3_upload_started")), 1, "one upload, resumed, not a second one")
        stored = self.s3.get_object(f"e2e/{job}")
        self.assertEqual(stored, self.expected)
        self.check_parts(job, len(stored))

    def test_completed_upload_not_recorded_is_found(self):
        # The state a crash leaves between CompleteMultipartUpload and the recorded completion: the object is
        # whole, the job still running with every part and its `publishing` record in its checkpoint (made
        # here by putting the record back). The next attempt finds the object and does not upload again.
        # Then the same without the publishing record, as versions that recorded none left it.
        s = self.serve()
        for n, (reset, event) in enumerate((("", "job_found_published"),
                                            (", publishing = NULL", "s3_upload_found_complete"))):
            job = s.create()
            s.wait_completed(job, WAIT)
            psql(self.url, "UPDATE export_jobs SET status = 'running', finished_at = NULL,"
                           f" lease_expires_at = now() - interval '1 second'{reset} WHERE id = '{job}'")
            wait_until("the job completed again",
                       lambda: sum(e.get("job") == job for e in s.log_events("job_completed")) == 2, WAIT, poll=0.05)
            self.assertTrue([e for e in s.log_events(event) if e.get("job") == job], s.log_tail())
            self.assertEqual(len([e for e in s.log_events("s3_upload_started") if e.get("job") == job]), 1,
                             "no second upload")
            self.assertEqual(self.s3.get_object(f"e2e/{job}"), self.expected)

    def test_store_down_mid_upload_job_waits_then_completes(self):
        s = self.serve()
        job = s.create()
        self.hold_mid_upload(job)
        self.s3.kill()
        wait_until("the job waiting for the object store",
                   lambda: any(e.get("class") == "unavailable" and "object storage" in e.get("error", "")
                               for e in s.log_events("job_retry")), WAIT, poll=0.1)
        # /healthz answers from a cache of about a second while healthy: wait for the probe to see it.
        def health():
            r = s.request("GET", "/healthz")
            return r.status, r.json()["status"], r.json()["storage"]
        wait_until("/healthz reporting the store down",
                   lambda: health() == (200, "degraded", "unreachable"), WAIT, poll=0.1)
        self.assertEqual(s.status(job)["status"], "running")
        self.s3.start()
        s.wait_completed(job, WAIT)
        self.assertEqual(self.s3.get_object(f"e2e/{job}"), self.expected)
        wait_until("/healthz ok again", lambda: health()[1] == "ok", WAIT, poll=0.1)

    def test_cancel_mid_upload_aborts_it(self):
        s = self.serve()
        job = s.create()
        self.hold_mid_upload(job)
        r = s.request("DELETE", f"/api/export/{job}")
        self.assertEqual(r.status, 200, r)
        self.s3.thaw()
        wait_until("the upload aborted", lambda: s.log_events("s3_upload_aborted"), WAIT, poll=0.1)
        self.assertEqual(s.status(job)["status"], "cancelled")
        self.assertFalse(self.s3.exists(f"e2e/{job}"), "a cancelled job's object never appears")


if __name__ == "__main__":
    main()
