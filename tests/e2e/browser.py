#!/usr/bin/env python3
"""The web page in a real browser: tests/browser/page_test.mjs (playwright-core driving Debian's
chromium) against a real server and database, set up here and removed afterwards.

    browser.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

The screenshot is kept in var/screenshots/page.png."""
import os
import subprocess
import sys
import tempfile

from e2e_support import ROOT, copy_csv, scratch_database, server


def main():
    binary = os.path.abspath(sys.argv[1])
    with scratch_database("browser") as url:
        subprocess.run([binary, "seed", "--rows", "20000", "--database", url], check=True, capture_output=True)
        with server(binary, url, "--chunk-rows", "1000") as s, tempfile.TemporaryDirectory() as work:
            expected = os.path.join(work, "expected.csv")
            with open(expected, "wb") as f:
                f.write(copy_csv(url, "SELECT id, category, amount FROM records WHERE category = 'books' ORDER BY id"))
            result = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "page_test.mjs"), s.base,
                                     os.path.join(ROOT, "var", "screenshots"), expected],
                                    cwd=os.path.join(ROOT, "tests", "browser"), timeout=300)
            if result.returncode != 0:
                print(s.log_tail())
            return result.returncode


if __name__ == "__main__":
    sys.exit(main())
