#!/usr/bin/env python3
"""The web page in a real browser: tests/browser/page_test.mjs (playwright-core driving Debian's
chromium) against a real server and database, set up here and removed afterwards.

    browser.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

It runs twice: against a server without API keys, and against one with `--api-key`, where the page must
show the 401 problem until the key is typed and then send the key with every call (page_test.mjs checks
the page; this script checks afterwards, through the API, that exactly the page's one export exists).
The screenshots are kept in var/screenshots/page.png and var/screenshots/api-key/page.png."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from e2e_support import ROOT, copy_csv, psql, scratch_database, server

API_KEY = "browser-key-7f3a"
# The page's export, as the status echoes it (filters in their normalized operator form).
ECHOED_REQUEST = {"filters": {"category": {"eq": "books"}}, "columns": ["id", "category", "amount"]}


def get_json(url, key=None):
    """(status, parsed JSON body) of a GET."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_quiescent(url, timeout=60):
    """Waits until no job is queued or running: a server started next would take such jobs up."""
    deadline = time.monotonic() + timeout
    while psql(url, "SELECT count(*) FROM export_jobs WHERE status IN ('queued', 'running')").strip() != b"0":
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still queued or running after {timeout} s")
        time.sleep(0.1)


def run_page(base, screenshots, expected, key):
    env = {k: v for k, v in os.environ.items() if k != "PGEXPORT_API_KEY"}
    if key:
        env["PGEXPORT_API_KEY"] = key
    print(f"# the page against a server {'with --api-key' if key else 'without API keys'}", flush=True)
    return subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "page_test.mjs"), base, screenshots,
                           expected], cwd=os.path.join(ROOT, "tests", "browser"), env=env, timeout=300).returncode


def check_key_server(base):
    """After the page's run with a key: the API refuses the keyless, and the key sees exactly one job, the
    page's export, completed (the exports the page sent without the key or with a wrong one made none)."""
    problems = []
    status, body = get_json(base + "/api/export")
    error = body.get("error") if isinstance(body, dict) else None
    if status != 401 or not isinstance(error, dict) or error.get("code") != "unauthorized":
        problems.append(f"GET /api/export without the key: {status} {body}")
    status, jobs = get_json(base + "/api/export", key=API_KEY)
    if status != 200 or not isinstance(jobs, list) or len(jobs) != 1:
        problems.append(f"the key's jobs are not exactly the page's one export: {status} {jobs}")
    elif jobs[0].get("status") != "completed" or jobs[0].get("request") != ECHOED_REQUEST:
        problems.append(f"the key's job is not the page's completed export: {jobs[0]}")
    for p in problems:
        print(f"not ok - {p}")
    return not problems


def main():
    binary = os.path.abspath(sys.argv[1])
    screenshots = os.path.join(ROOT, "var", "screenshots")
    failed = 0
    with scratch_database("browser") as url, tempfile.TemporaryDirectory() as work:
        subprocess.run([binary, "seed", "--rows", "20000", "--database", url], check=True, capture_output=True)
        expected = os.path.join(work, "expected.csv")
        with open(expected, "wb") as f:
            f.write(copy_csv(url, "SELECT id, category, amount FROM records WHERE category = 'books' ORDER BY id"))
        for key in (None, API_KEY):
            if key:
                wait_quiescent(url)  # the first server's job is over (the job table exists from its start)
            args = ["--chunk-rows", "1000"] + (["--api-key", key] if key else [])
            with server(binary, url, *args) as s:
                ok = run_page(s.base, os.path.join(screenshots, "api-key") if key else screenshots, expected, key) == 0
                if ok and key:
                    ok = check_key_server(s.base)
                if not ok:
                    failed += 1
                    print(s.log_tail())
    print(f"{2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
