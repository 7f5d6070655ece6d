#!/usr/bin/env python3
"""The README's commands, run as written against a live server.

    readme.py <pgexport binary>      (PGEXPORT_TEST_DATABASE_URL: an admin URL, set by tools/test)

Each ```sh block right after a `<!-- tested -->` line is run with `bash -eu -o pipefail` in an empty
directory, with only two substitutions: the README's address 127.0.0.1:8080 becomes the test server's,
and `build/pgexport` the binary under test (the client's default server is set through PGEXPORT_SERVER).
The server serves `records` as a gated view of the seeded rows (the harness's gate), so that the cancel
example finds its job still running, as the README says, however fast the machine. Each block's output
and files are checked against PostgreSQL's own COPY. Also: `tools/run --help` answers without building
or starting anything, and the README never points outside the repository."""
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (ROOT, binary, call, check, copy_csv, held_gate, install_gate, main, psql, scratch_database, seed,
                     server)

BINARY = binary()
README = os.path.join(ROOT, "README.md")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# What the README's examples select, as SQL on the seeded rows.
WALKTHROUGH = ("SELECT id, category, created_at, amount FROM records_base WHERE category = 'books'"
               " AND status IN ('paid', 'shipped') AND created_at >= '2024-01-01Z' AND created_at < '2024-02-01Z'"
               " AND amount > 10 ORDER BY id")
CLIENT = ("SELECT id, name, amount, created_at FROM records_base WHERE category = 'books'"
          " AND status IN ('paid', 'shipped') ORDER BY id")


def tested_blocks():
    text = open(README, encoding="utf-8").read()
    return re.findall(r"<!-- tested -->\n```sh\n(.*?)```", text, re.S)


def run_block(block, srv, work):
    script = block.replace("127.0.0.1:8080", f"127.0.0.1:{srv.port}").replace("build/pgexport", BINARY)
    env = dict(os.environ, PGEXPORT_SERVER=srv.base)
    p = subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", script], cwd=work, env=env, capture_output=True,
                       timeout=300)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    print(f"    exit {p.returncode}; output:\n" + "\n".join("    | " + line for line in out.splitlines()[:40]) +
          "\n    stderr:\n" + "\n".join("    | " + line for line in err.splitlines()[:20]))
    check(p.returncode == 0, f"the block exits {p.returncode}")
    return out, err


class readme_file(unittest.TestCase):
    def test_stands_alone(self):
        text = open(README, encoding="utf-8").read()
        check("../" not in text, "the README points outside the repository")
        prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # code blocks hold no links (C++ lambdas: `[](...)`)
        for link in re.findall(r"\]\(([^)#]+)\)", prose):
            if not link.startswith(("http://", "https://")):
                check(os.path.exists(os.path.join(ROOT, link)), f"the README links to {link}, which does not exist")
        for flag in ("--listen", "--table", "--database", "--data-dir", "--api-key-file", "tools/pg stop"):
            check(flag in text, f"the README does not mention {flag}")

    def test_run_help(self):
        """tools/run --help prints the help at once: no build, no PostgreSQL."""
        started = time.monotonic()
        p = subprocess.run([os.path.join(ROOT, "tools", "run"), "--help"], capture_output=True, timeout=60,
                           env=dict(os.environ, PGEXPORT_PG_DIR="/nonexistent/pgexport-readme-test"))
        out = p.stdout.decode()
        check(p.returncode == 0 and "tools/pg stop" in out, f"tools/run --help: {p.returncode} {out!r}")
        check(time.monotonic() - started < 10, "tools/run --help takes more than 10 s: it builds or starts something")


class tested_blocks_run(unittest.TestCase):
    """The tested blocks, in the README's order, against one server on a gated view of seeded rows."""

    @classmethod
    def setUpClass(cls):
        blocks = tested_blocks()
        steps = ["walkthrough", "cancel", "client"]
        check(len(blocks) == len(steps), f"{len(blocks)} tested blocks in the README, the test knows {len(steps)}")
        cls.blocks = dict(zip(steps, blocks))
        cls.url = cls.enterClassContext(scratch_database("readme"))
        cls.work = cls.enterClassContext(tempfile.TemporaryDirectory())
        seed(BINARY, cls.url, 20000)
        # records becomes a gated view of the seeded rows: every row there now passes without waiting.
        psql(cls.url, "ALTER TABLE records RENAME TO records_base")
        top = int(psql(cls.url, "SELECT max(id) FROM records_base").strip())
        install_gate(cls.url, view="records", table="records_base", open_below=top)
        cls.srv = cls.enterClassContext(server(BINARY, cls.url))

    def test_walkthrough(self):
        block, srv, url, work = self.blocks["walkthrough"], self.srv, self.url, self.work
        out, _ = run_block(block, srv, work)
        m = re.search(r"^job (" + UUID.pattern + r")$", out, re.M)
        check(m, "the first command prints the job's id")
        job = m.group(1)
        check(f'"jobId":"{job}"' in out, "status answers the job")
        check("event: completed" in out, "the events stream ends with the completed event")
        want = copy_csv(url, WALKTHROUGH)
        path = os.path.join(work, f"export-{job}.csv")
        check(os.path.exists(path), f"curl -OJ saved export-{job}.csv")
        got = open(path, "rb").read()
        check(got == want, f"the downloaded file equals COPY ({len(got)} bytes, COPY {len(want)})")
        check(len(want) > 100 and want[:100].decode() in out, "the range answers the first 100 bytes")
        check('"columns":[' in out and '"rows":[' in out and '"nextCursor"' in out, "schema and listing answer")
        status, body = call(srv.base, f"/api/export/{job}/status")
        check(status == 404, f"after the DELETE the job is gone: {status} {body}")

    def test_cancel(self):
        block, srv, url, work = self.blocks["cancel"], self.srv, self.url, self.work
        # Rows above the gate's threshold wait while it is held: the export cannot end before the DELETE.
        psql(url, "INSERT INTO records_base (category, created_at, name, email, amount, status)"
                  " SELECT category, created_at, name, email, amount, status FROM records_base ORDER BY id LIMIT 500")
        with held_gate(url):
            out, _ = run_block(block, srv, work)
        check('"status":"cancelled"' in out, "the DELETE answers the cancelled job")
        job = UUID.search(out)
        check(job and call(srv.base, f"/api/export/{job.group(0)}/status")[1]["status"] == "cancelled",
              "the job is cancelled")

    def test_client(self):
        block, srv, url, work = self.blocks["client"], self.srv, self.url, self.work
        out, err = run_block(block, srv, work)
        got = open(os.path.join(work, "books.csv"), "rb").read()
        want = copy_csv(url, CLIENT)
        check(got == want, f"books.csv equals COPY ({len(got)} bytes, COPY {len(want)})")
        check(out.strip() == "books.csv" and "completed" in err, "the client says completed and names the file")


if __name__ == "__main__":
    main()
