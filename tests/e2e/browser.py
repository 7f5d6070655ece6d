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
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import ROOT, binary, check, copy_csv, main, psql, scratch_database, seed, server, wait_until

BINARY = binary()
API_KEY = "browser-key-7f3a"
# The page's export, as the status echoes it (filters in their normalized operator form).
ECHOED_REQUEST = {"filters": {"category": {"eq": "books"}}, "columns": ["id", "category", "amount"]}


def wait_quiescent(url, timeout=60):
    """Waits until no job is queued or running: a server started next would take such jobs up."""
    wait_until("no job queued or running", lambda: psql(
        url, "SELECT count(*) FROM export_jobs WHERE status IN ('queued', 'running')").strip() == b"0", timeout, 0.1)


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


def check_key_server(s):
    """After the page's run with a key: the API refuses the keyless, and the key sees exactly one job, the
    page's export, completed (the exports the page sent without the key or with a wrong one made none)."""
    r = s.request("GET", "/api/export")
    error = r.json().get("error") if isinstance(r.json(), dict) else None
    check(r.status == 401 and isinstance(error, dict) and error.get("code") == "unauthorized",
          f"GET /api/export without the key: {r!r}")
    r = s.request("GET", "/api/export", key=API_KEY)
    jobs = r.json()
    check(r.status == 200 and isinstance(jobs, list) and len(jobs) == 1,
          f"the key's jobs are not exactly the page's one export: {r!r}")
    check(jobs[0].get("status") == "completed" and jobs[0].get("request") == ECHOED_REQUEST,
          f"the key's job is not the page's completed export: {jobs[0]}")


SCREENSHOTS = os.path.join(ROOT, "var", "screenshots")


class page(unittest.TestCase):
    """One database for the three runs; each server starts once no job of the one before is left."""

    @classmethod
    def setUpClass(cls):
        cls.url = cls.enterClassContext(scratch_database("browser"))
        cls.work = cls.enterClassContext(tempfile.TemporaryDirectory())
        seed(BINARY, cls.url, 20000)
        cls.expected = os.path.join(cls.work, "expected.csv")
        with open(cls.expected, "wb") as f:
            f.write(copy_csv(cls.url, "SELECT id, category, amount FROM records WHERE category = 'books' ORDER BY id"))

    def test_without_keys(self):
        with server(BINARY, self.url, "--chunk-rows", "1000") as s:
            check(run_page(s.base, SCREENSHOTS, self.expected, None) == 0, "page_test.mjs failed (above)")

    def test_with_a_key(self):
        wait_quiescent(self.url)  # the first server's job is over (the job table exists from its start)
        with server(BINARY, self.url, "--chunk-rows", "1000", "--api-key", API_KEY) as s:
            check(run_page(s.base, os.path.join(SCREENSHOTS, "api-key"), self.expected, API_KEY) == 0,
                  "page_test.mjs failed (above)")
            check_key_server(s)

    def test_a_second_table(self):
        wait_quiescent(self.url)
        psql(self.url, ORDERS)
        orders_expected = os.path.join(self.work, "orders.csv")
        with open(orders_expected, "wb") as f:
            f.write(copy_csv(self.url, ORDERS_SELECT))
        with server(BINARY, self.url, "--chunk-rows", "100", "--table", "records", "--table", "orders:order_id") as s:
            check(run_page(s.base, SCREENSHOTS, orders_expected, None, "orders") == 0, "page_test.mjs failed (above)")


if __name__ == "__main__":
    main()
