#!/usr/bin/env python3
"""The web page in a real browser: tests/browser/page_test.mjs (playwright-core driving Debian's
chromium) against a real server and database. Starts everything it needs and removes it afterwards.

    browser.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

The screenshot is kept in var/screenshots/page.png."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def psql(url, sql, **kw):
    env = dict(os.environ, PGTZ="UTC", PGDATESTYLE="ISO, MDY", PGOPTIONS="-c extra_float_digits=3")
    return subprocess.run(["psql", "-X", "-qAt", url, "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, env=env, capture_output=True, **kw).stdout


def main():
    binary = os.path.abspath(sys.argv[1])
    admin = os.environ.get("PGEXPORT_TEST_DATABASE_URL")
    if not admin:
        print("PGEXPORT_TEST_DATABASE_URL is not set: run through tools/test")
        print("0 passed, 1 failed")
        return 1
    name = f"browser_{os.getpid()}"
    url = with_database(admin, name)
    work = tempfile.mkdtemp(prefix="pgexport-browser-")
    server = None
    log = open(os.path.join(work, "serve.log"), "wb")
    try:
        psql(admin, f"CREATE DATABASE {name}")
        subprocess.run([binary, "seed", "--rows", "20000", "--database", url], check=True, capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--database", url,
                                   "--data-dir", os.path.join(work, "exports"), "--chunk-rows", "1000"],
                                  stdout=log, stderr=log)
        deadline = time.time() + 30
        while True:
            try:
                if urllib.request.urlopen(base + "/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the server did not become healthy in 30 s")
            time.sleep(0.1)
        expected = os.path.join(work, "expected.csv")
        with open(expected, "wb") as f:
            f.write(psql(url, "COPY (SELECT id, category, amount FROM records WHERE category = 'books' ORDER BY id)"
                              " TO STDOUT WITH (FORMAT csv, HEADER true)"))
        screenshots = os.path.join(ROOT, "var", "screenshots")
        result = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "page_test.mjs"), base, screenshots,
                                 expected], cwd=os.path.join(ROOT, "tests", "browser"), timeout=300)
        if result.returncode != 0:
            log.flush()
            sys.stdout.write(open(log.name, encoding="utf-8", errors="replace").read()[-4000:])
        return result.returncode
    finally:
        if server:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        try:
            psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
