#!/usr/bin/env python3
"""The web page in a real browser: tests/browser/page_test.mjs (playwright-core driving Debian's
chromium) against a real server and database, set up here and removed afterwards.

    browser.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

It runs three times: against a server without API keys; against one with `--api-key`, where the page must
show the 401 problem until the key is typed and then send the key with every call (page_test.mjs checks
the page; this script checks afterwards, through the API, that exactly the page's one export exists); and
against a server of two tables, records and an `orders` table made here with other types (a bigint key
past 2^32, numeric, boolean, date, timestamptz, an enum-like text column, never analyzed), where the page
must follow the table picked and its export must equal psql's COPY of the same selection.
The screenshots are kept in var/screenshots/ (page.png, page-orders.png; api-key/page.png); the README
shows copies of the first two from docs/."""
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


ORDERS = """
CREATE TYPE order_state AS ENUM ('new', 'packed', 'sent');
CREATE TABLE orders (order_id bigint PRIMARY KEY, customer text NOT NULL, total numeric(10,2) NOT NULL,
  paid boolean NOT NULL, ordered_on date NOT NULL, placed_at timestamptz NOT NULL, channel text NOT NULL, note text,
  state order_state NOT NULL);
INSERT INTO orders SELECT 5000000000 + g * 10, 'customer ' || g, (g * 37 % 20000) / 100.0, g % 3 <> 0,
  date '2024-01-01' + g % 365, timestamptz '2024-01-01 00:00:00+00' + g * interval '3 hours 13 minutes',
  (ARRAY['web', 'store', 'phone', 'mail'])[1 + g % 4],
  CASE WHEN g % 5 = 0 THEN NULL ELSE 'note "' || g || E'", with, commas\\nand a line' END,
  (ARRAY['new', 'packed', 'sent'])[1 + g % 3]::order_state
FROM generate_series(1, 3000) g;
"""
# What the page's orders export selects (page_test.mjs fills the form so).
ORDERS_SELECT = ("SELECT order_id, customer, total, paid, ordered_on, placed_at, channel, state FROM orders"
                 " WHERE total >= 10 AND paid AND placed_at >= '2024-03-01 00:00:00Z'"
                 " AND placed_at < '2024-09-01 00:00:00Z' AND channel = 'web' AND state = 'sent' ORDER BY order_id")


def run_page(base, screenshots, expected, key, scenario="records"):
    env = {k: v for k, v in os.environ.items() if k != "PGEXPORT_API_KEY"}
    if key:
        env["PGEXPORT_API_KEY"] = key
    env["PGEXPORT_PAGE_SCENARIO"] = scenario
    print(f"# the page ({scenario}) against a server {'with --api-key' if key else 'without API keys'}", flush=True)
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
        wait_quiescent(url)
        psql(url, ORDERS)
        orders_expected = os.path.join(work, "orders.csv")
        with open(orders_expected, "wb") as f:
            f.write(copy_csv(url, ORDERS_SELECT))
        with server(binary, url, "--chunk-rows", "100", "--table", "records", "--table", "orders:order_id") as s:
            if run_page(s.base, screenshots, orders_expected, None, "orders") != 0:
                failed += 1
                print(s.log_tail())
    print(f"{3 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
