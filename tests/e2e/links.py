#!/usr/bin/env python3
"""Signed download links, the shared secret and key owners, against real servers and a real database.

    links.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

Checks: with API keys, status's downloadUrl is a signed link that downloads without Authorization (the
bytes of PostgreSQL's COPY; Range too); an altered signature, an altered expiry, another job's signature,
a link with a part missing or repeated get 403 invalid_signature, also with a valid key; an expired link
(--link-ttl 1s) gets 403; the secret file is created 0600 in the data directory; two instances started
together on one data directory end with one secret and accept each other's links and owners; keys from
--api-key-file work and keep their owners apart; a secret open to others, a short one, or a key file
without keys stop `serve` with a clear message. One line per case, then `N passed, M failed`."""
import concurrent.futures
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import binary, check, copy_csv, main, psql, server, shared_database

BINARY = binary()
KEY_A, KEY_B = "key-a-4f1c", "key-b-9e27"


def shown(r):
    return f"HTTP {r.status} {r.body[:300]!r}"


def create_and_wait(s, key, columns):
    """Creates a job with `key`, waits until it completed; (its id, its status)."""
    job = s.create({"columns": columns}, key=key)
    return job, s.wait_completed(job, 60, key=key)


LINK_RE = re.compile(r"^/api/export/([0-9a-f-]{36})/download\?expires=(\d+)&signature=([0-9a-f]{64})$")


def parse_link(url):
    m = LINK_RE.match(url or "")
    check(m, f"downloadUrl is not a signed link: {url!r}")
    return m.group(1), int(m.group(2)), m.group(3)


def check_refused(r, what, message_part):
    check(r.status == 403, f"{what}: expected 403, got {shown(r)}")
    err = r.json()["error"]
    check(err["code"] == "invalid_signature", f"{what}: code {err['code']!r}")
    check(message_part in err["message"], f"{what}: message {err['message']!r} lacks {message_part!r}")


# The suite's database (3,000 rows) and work directory, made once for all its cases.
links_case = shared_database(BINARY, "links", 3000)


class one_server_with_keys(links_case):
    """A server with key A and key B (from a key file), and two completed jobs of key A."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        key_file = os.path.join(cls.work, "keys")
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:  # keys are passwords
            f.write(f"# the team's keys\n\n  {KEY_B}  \n")
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--api-key", KEY_A, "--api-key-file", key_file))
        cls.jobs = {"a": create_and_wait(cls.s, KEY_A, ["id", "email"]),
                    "a2": create_and_wait(cls.s, KEY_A, ["id"])}

    def test_link_downloads_without_a_key(self):
        s, url, jobs = self.s, self.url, self.jobs
        job, st = jobs["a"]
        link_job, expires, _ = parse_link(st["downloadUrl"])
        check(link_job == job, f"the link names job {link_job}, not {job}")
        now = time.time()
        check(now + 3600 - 60 <= expires <= now + 3600 + 5, f"expires {expires} is not about an hour (--link-ttl 1h) from {now}")
        expected = copy_csv(url, "SELECT id, email FROM records ORDER BY id")
        r = s.request("GET", st["downloadUrl"])
        check(r.status == 200, f"the link without Authorization: {shown(r)}")
        check(r.body == expected, "the link's download differs from COPY")
        check(f'export-{job}.csv' in r.headers.get("Content-Disposition", ""), f"headers: {r.headers}")
        r = s.request("GET", st["downloadUrl"], headers={"Range": "bytes=100-"})
        check(r.status == 206 and r.body == expected[100:], f"a ranged download by link: {r.status}")
        r = s.request("GET", st["downloadUrl"], key=KEY_A)
        check(r.status == 200 and r.body == expected, f"the link with its owner's key too: {r.status}")
        # The link opens the download only: the plain path and the other routes still need the key.
        check(s.request("GET", f"/api/export/{job}/download").status == 401, "the plain path without a key")
        query = st["downloadUrl"].split("?", 1)[1]
        for path, method in ((f"/api/export/{job}/status?{query}", "GET"), (f"/api/export?{query}", "GET"),
                             (f"/api/export/{job}?{query}", "DELETE"), (f"/api/export?{query}", "POST")):
            r = s.request(method, path, body={} if method == "POST" else None)
            check(r.status == 401, f"{method} {path} with a link's query and no key: {shown(r)}")
        # The list keeps the plain path (the page polls it; a link that changed every poll would churn it).
        listed = [j for j in s.request("GET", "/api/export", key=KEY_A).json() if j["jobId"] == job]
        check(listed and listed[0]["downloadUrl"] == f"/api/export/{job}/download", f"list: {listed}")

    def test_altered_links_are_refused(self):
        s, jobs = self.s, self.jobs
        job, st = jobs["a"]
        other_job, other_st = jobs["a2"]
        _, expires, sig = parse_link(st["downloadUrl"])
        _, other_expires, other_sig = parse_link(other_st["downloadUrl"])
        base = f"/api/export/{job}/download"
        flipped = sig[:20] + ("0" if sig[20] != "0" else "1") + sig[21:]
        cases = {
            "one hex digit of the signature changed": f"{base}?expires={expires}&signature={flipped}",
            "the expiry one second later": f"{base}?expires={expires + 1}&signature={sig}",
            "the expiry pushed a year on": f"{base}?expires={expires + 365 * 86400}&signature={sig}",
            "another job's signature and expiry": f"{base}?expires={other_expires}&signature={other_sig}",
            "this job's link on another job's path": f"/api/export/{other_job}/download?expires={expires}&signature={sig}",
            "no signature": f"{base}?expires={expires}",
            "no expiry": f"{base}?signature={sig}",
            "an empty signature": f"{base}?expires={expires}&signature=",
            "a signature twice": f"{base}?expires={expires}&signature={sig}&signature={sig}",
            "a short signature": f"{base}?expires={expires}&signature={sig[:40]}",
            "not hex": f"{base}?expires={expires}&signature={'g' * 64}",
            "a malformed escape": f"{base}?expires=%zz&signature={sig}",
        }
        for what, path in cases.items():
            check_refused(s.request("GET", path), what, "not valid")
            # A key does not rescue a broken link: a link given is a link checked.
            check_refused(s.request("GET", path, key=KEY_A), what + " (with the owner's key)", "not valid")
        # The untouched links still work (the refusals above were about the changes).
        check(s.request("GET", st["downloadUrl"]).status == 200, "the untouched link")
        check(s.request("GET", other_st["downloadUrl"]).status == 200, "the other job's untouched link")

    def test_secret_file_is_private(self):
        s = self.s
        path = os.path.join(s.data_dir, "secret")
        st = os.stat(path)
        check(stat.S_IMODE(st.st_mode) == 0o600, f"the secret's mode is {oct(stat.S_IMODE(st.st_mode))}")
        check(st.st_size == 32, f"the secret has {st.st_size} bytes")
        stray = [n for n in os.listdir(s.data_dir) if n.startswith("secret") and n != "secret"]
        check(not stray, f"temporary secret files left: {stray}")

    def test_owners_stay_apart(self):
        s, url, jobs = self.s, self.url, self.jobs
        job, st = jobs["a"]
        r = s.request("GET", f"/api/export/{job}/status", key=KEY_B)
        check(r.status == 404, f"key B reads key A's job: {shown(r)}")
        r = s.request("GET", f"/api/export/{job}/download", key=KEY_B)
        check(r.status == 404, f"key B downloads key A's job by its path: {shown(r)}")
        check(job not in [j["jobId"] for j in s.request("GET", "/api/export", key=KEY_B).json()], "key B lists A's job")
        check(s.request("DELETE", f"/api/export/{job}", key=KEY_B).status == 404, "key B deletes A's job")
        # Key B (from --api-key-file) works for its own jobs.
        b_job, b_st = create_and_wait(s, KEY_B, ["id", "amount"])
        check(s.request("GET", f"/api/export/{b_job}/status", key=KEY_A).status == 404, "key A reads B's job")
        r = s.request("GET", b_st["downloadUrl"])
        check(r.status == 200 and r.body == copy_csv(url, "SELECT id, amount FROM records ORDER BY id"),
              f"B's link: {r.status}")
        # Owners are HMACs of the keys under the secret: neither key appears in the job store.
        owners = psql(url, "SELECT DISTINCT owner FROM export_jobs").decode().split()
        check(len(owners) == 2 and all(re.fullmatch(r"key:[0-9a-f]{64}", o) for o in owners), f"owners: {owners}")
        check(not any(KEY_A in o or KEY_B in o for o in owners), "a key is stored")


class servers_of_their_own(links_case):
    def test_expired_link_is_refused(self):
        url = self.url
        with server(BINARY, url, "--api-key", KEY_A, "--link-ttl", "1s") as s:
            job, st = create_and_wait(s, KEY_A, ["id"])
            _, expires, _ = parse_link(st["downloadUrl"])
            check(expires <= time.time() + 1.5, f"--link-ttl 1s gave expires {expires}")
            while time.time() < expires + 0.05:  # the state waited for: the clock past the expiry
                time.sleep(0.05)
            check_refused(s.request("GET", st["downloadUrl"]), "an expired link", "expired")
            # A new status gives a new link that works.
            st = s.request("GET", f"/api/export/{job}/status", key=KEY_A).json()
            r = s.request("GET", st["downloadUrl"])
            check(r.status in (200, 403), f"a fresh link: {shown(r)}")
            if r.status == 403:  # the second turned meanwhile: only "expired" may be said, never "not valid"
                check_refused(r, "a fresh link a second later", "expired")

    def test_instances_share_the_secret(self):
        url, work = self.url, self.work
        data_dir = os.path.join(work, "shared-exports")
        args = ("--api-key", KEY_A)
        # Started together on a data directory without a secret: they race to create it.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            starting = [pool.submit(server, BINARY, url, *args, data_dir=data_dir) for _ in range(2)]
            started, errors = [], []
            for f in starting:
                try:
                    started.append(f.result())
                except Exception as e:  # noqa: BLE001 - stop the one that started, then report
                    errors.append(e)
            if errors:
                for s in started:
                    s.__exit__(None, None, None)
                raise errors[0]
            one, two = started
        with one, two:
            check(stat.S_IMODE(os.stat(os.path.join(data_dir, "secret")).st_mode) == 0o600, "the shared secret's mode")
            expected = copy_csv(url, "SELECT id, name FROM records ORDER BY id")
            job, st = create_and_wait(one, KEY_A, ["id", "name"])
            r = two.request("GET", st["downloadUrl"])
            check(r.status == 200 and r.body == expected, f"instance two with instance one's link: {r.status}")
            st_two = two.request("GET", f"/api/export/{job}/status", key=KEY_A)
            check(st_two.status == 200, f"instance two does not give the key its job: {shown(st_two)}")
            r = one.request("GET", st_two.json()["downloadUrl"])
            check(r.status == 200 and r.body == expected, f"instance one with instance two's link: {r.status}")

    def test_startup_refusals(self):
        url, work = self.url, self.work
        def serve(*args):
            return subprocess.run([BINARY, "serve", "--listen", "127.0.0.1:0", "--database", url, *args],
                                  capture_output=True, text=True, timeout=60)

        open_secret = os.path.join(work, "open-secret")
        with open(open_secret, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(open_secret, 0o644)
        short_secret = os.path.join(work, "short-secret")
        with open(short_secret, "wb") as f:
            f.write(os.urandom(16))
        os.chmod(short_secret, 0o600)
        empty_keys = os.path.join(work, "empty-keys")
        with open(empty_keys, "w") as f:
            f.write("# no keys yet\n\n")
        os.chmod(empty_keys, 0o600)
        open_keys = os.path.join(work, "open-keys")
        with open(open_keys, "w") as f:
            f.write(KEY_A + "\n")
        os.chmod(open_keys, 0o644)
        data_dir = os.path.join(work, "refused")
        cases = [
            (("--api-key", KEY_A, "--secret-file", open_secret), f"open to group or others (mode 0644); run: chmod 600 {open_secret}"),
            (("--api-key", KEY_A, "--secret-file", short_secret), "holds 16 bytes; a secret needs at least 32"),
            (("--api-key-file", empty_keys), "names no key"),
            (("--api-key-file", open_keys), f"is open to other users (mode 0644); run: chmod o-rwx {open_keys}"),
            (("--api-key-file", os.path.join(work, "missing-keys")), "cannot read the API key file"),
            (("--api-key", KEY_A, "--link-ttl", "0s"), "--link-ttl must be a duration"),
        ]
        for args, message in cases:
            p = serve("--data-dir", data_dir, *args)
            check(p.returncode != 0, f"serve {args} started")
            check(message in p.stderr, f"serve {args}: {p.stderr!r} lacks {message!r}")


if __name__ == "__main__":
    main()
