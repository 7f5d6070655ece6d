#!/usr/bin/env python3
"""Output formats through the real server: CSV options, JSON Lines, gzip.

    formats.py <pgexport binary>     (tools/test runs it with PGEXPORT_TEST_DATABASE_URL set)

- every combination of delimiter (, ; tab |), header, null ("", NULL, \\N), forceQuote and bom on a table of
  hard rows (quotes, backslashes, line breaks, tabs, unicode, NULLs, empty strings, a lone \\., values equal
  to the NULL string or holding the delimiter) is byte-identical to psql's COPY ... WITH (the same options),
  after the UTF-8 BOM when bom is true; other column sets (the key alone, one text column, the key not
  first) over a smaller product;
- jsonl: every line parses as JSON and the file equals psql's `SELECT row_to_json(r)` line for line, also
  for a json column that holds its own line breaks;
- gzip (csv and jsonl): `gzip -dc` gives exactly the uncompressed export; a job killed with SIGKILL while a
  gate holds it mid-export resumes on a restarted server and its file still decompresses to the reference;
- the download's name and Content-Type follow format and compression; bad options are 400 at once, with
  no job created.
Chunks are 7 rows, so every file spans several chunks (and gzip members). Every wait polls for a state with
a deadline. One line per case, then `N passed, M failed`."""
import gzip
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (binary, check, held_gate, install_gate, main, psql, scratch_database, server, wait_until)

BINARY = binary()
WAIT = 120  # seconds any state may take to come about on a loaded machine
CHUNK = "7"

HARD_TABLE = """
CREATE TABLE hard (
    id   bigint PRIMARY KEY,
    t    text,
    n    numeric(12,2),
    ts   timestamptz,
    ok   boolean,
    tags text[]
);
INSERT INTO hard VALUES
 (1,  'plain', 1.50, '2024-01-01 00:00:00+00', true, '{a,b}'),
 (2,  'comma, inside', -2.00, '2024-02-29 12:34:56.789+00', false, '{}'),
 (3,  'double "quotes" here', NULL, NULL, NULL, NULL),
 (4,  E'back\\\\slash \\\\N \\\\. end', 0, '1999-12-31 23:59:59+00', true, '{"x y","q\\"r"}'),
 (5,  E'line\\nbreak', 3.14, '2024-06-01 00:00:00+00', false, '{NULL}'),
 (6,  E'carriage\\rreturn', 4, '2024-06-01 00:00:00+00', true, NULL),
 (7,  E'tab\\there', 5, '2024-06-01 00:00:00+00', true, NULL),
 (8,  'semi;colon|pipe', 6, '2024-06-01 00:00:00+00', true, NULL),
 (9,  '', 7, '2024-06-01 00:00:00+00', true, NULL),
 (10, NULL, 8, '2024-06-01 00:00:00+00', true, NULL),
 (11, 'NULL', 9, '2024-06-01 00:00:00+00', true, NULL),
 (12, E'\\\\N', 10, '2024-06-01 00:00:00+00', true, NULL),
 (13, E'\\\\.', 11, '2024-06-01 00:00:00+00', true, NULL),
 (14, 'unicode: é 中文 😀 ‮rtl', 12, '2024-06-01 00:00:00+00', true, NULL),
 (15, ' leading and trailing ', 13, '2024-06-01 00:00:00+00', true, NULL),
 (16, E'"\\n"', 14, '2024-06-01 00:00:00+00', true, NULL),
 (17, E'control \\x01\\x02\\x1f bytes', 15, '2024-06-01 00:00:00+00', true, NULL),
 (18, '\"', 16, '2024-06-01 00:00:00+00', true, NULL),
 (19, E'\\\\', 17, '2024-06-01 00:00:00+00', true, NULL),
 (20, E'{"json": "in text", "n": [1, 2]}', 18, '2024-06-01 00:00:00+00', true, NULL);
INSERT INTO hard SELECT g, 'row ' || g || CASE WHEN g % 3 = 0 THEN E', "q"\\n' ELSE '' END,
                        g * 1.25, '2024-01-01'::timestamptz + g * interval '1 hour', g % 2 = 0, NULL
                 FROM generate_series(21, 60) g;
"""


def download(s, job):
    """(headers, body) of the job's download."""
    r = s.request("GET", f"/api/export/{job}/download")
    check(r.status == 200, f"download {job}: {r!r}")
    return r.headers, r.body


def sql_literal(text):
    """A literal psql reads back as `text` (standard_conforming_strings is on)."""
    if "\t" in text:
        return "E'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\t", "\\t") + "'"
    return "'" + text.replace("'", "''") + "'"


def reference_csv(url, columns, csv, where="true"):
    options = [f"FORMAT csv", f"DELIMITER {sql_literal(csv['delimiter'])}", f"HEADER {str(csv['header']).lower()}",
               f"NULL {sql_literal(csv['null'])}"]
    if csv["forceQuote"]:
        options.append("FORCE_QUOTE *")
    select = f"SELECT {', '.join(columns)} FROM hard WHERE {where} ORDER BY id"
    out = psql(url, f"COPY ({select}) TO STDOUT WITH ({', '.join(options)})")
    return (b"\xef\xbb\xbf" if csv["bom"] else b"") + out


def reference_jsonl(url, columns, table="hard"):
    """psql's row_to_json of each row, one a line (unaligned, tuples only: the text as it is, then \\n)."""
    return psql(url, f"SELECT row_to_json(r) FROM (SELECT {', '.join(columns)} FROM {table} ORDER BY id) r")


ALL = ["id", "t", "n", "ts", "ok", "tags"]


def csv_cases():
    full = itertools.product([",", ";", "\t", "|"], [True, False], ["", "NULL", "\\N"], [False, True],
                             [False, True])
    for d, h, n, q, b in full:
        yield ALL, {"delimiter": d, "header": h, "null": n, "forceQuote": q, "bom": b}
    # Other column sets: the key alone, one text column (the key is stripped; a lone \. is quoted), the key
    # not first, and the key first of a few.
    for columns in (["id"], ["t"], ["t", "id"], ["id", "t", "n"]):
        for d, n, q in itertools.product([",", ";", "\t"], ["", "\\N"], [False, True]):
            yield columns, {"delimiter": d, "header": True, "null": n, "forceQuote": q, "bom": False}


def check_jsonl(got, expected, what):
    check(got == expected, f"{what}: the file differs from psql's row_to_json:\n"
                           f"  got      {got[:400]!r}\n  expected {expected[:400]!r}")
    lines = got.split(b"\n")
    check(lines[-1] == b"", f"{what}: the file does not end with a newline")
    for line in lines[:-1]:
        check(isinstance(json.loads(line), dict), f"{what}: a line is not a JSON object: {line!r}")


def setUpModule():
    formats_case.url = unittest.enterModuleContext(scratch_database("pgexport_formats"))
    psql(formats_case.url, HARD_TABLE)


class formats_case(unittest.TestCase):
    """The suite's database, a table of hard rows, made once for all its cases."""

    url = work = None  # setUpModule's


class one_server(formats_case):
    """The cases that share one server on the table of hard rows."""

    @classmethod
    def setUpClass(cls):
        cls.s = cls.enterClassContext(server(BINARY, cls.url, "--table", "hard", "--chunk-rows", CHUNK,
                                             "--max-jobs-per-key", "1000", "--max-concurrent", "4"))

    def test_csv_options_match_copy(self):
        url, s = self.url, self.s
        cases = list(csv_cases())
        jobs = [(columns, csv, s.create({"columns": columns, "csv": csv})) for columns, csv in cases]
        for columns, csv, job in jobs:
            s.wait_completed(job, WAIT)
            headers, got = download(s, job)
            expected = reference_csv(url, columns, csv)
            check(got == expected, f"columns {columns} csv {csv}: the file differs from COPY's:\n"
                                   f"  got      {got[:400]!r}\n  expected {expected[:400]!r}")
            check(headers["Content-Type"] == "text/csv; charset=utf-8", f"Content-Type {headers['Content-Type']}")
            check(headers["Content-Disposition"] == f'attachment; filename="export-{job}.csv"',
                  f"Content-Disposition {headers['Content-Disposition']}")
            check(got.startswith(b"\xef\xbb\xbf") == csv["bom"], f"BOM for {csv}")
            check(got.count(b"\xef\xbb\xbf") == (1 if csv["bom"] else 0), f"one BOM at most for {csv}")
        print(f"    {len(cases)} option combinations byte-identical to COPY", flush=True)

    def test_jsonl_is_row_to_json(self):
        url, s = self.url, self.s
        for columns in (ALL, ["t"], ["t", "id", "tags"], ["id"]):
            job = s.create({"format": "jsonl", "columns": columns})
            st = s.wait_completed(job, WAIT)
            headers, got = download(s, job)
            check_jsonl(got, reference_jsonl(url, columns), f"jsonl of {columns}")
            check(st["rowsExported"] == 60, f"rows {st['rowsExported']}")
            check(headers["Content-Type"] == "application/x-ndjson", f"Content-Type {headers['Content-Type']}")
            check(headers["Content-Disposition"] == f'attachment; filename="export-{job}.jsonl"',
                  f"Content-Disposition {headers['Content-Disposition']}")
        # Every hard row's text comes back exactly as the database holds it.
        job = s.create({"format": "jsonl", "columns": ["id", "t"]})
        s.wait_completed(job, WAIT)
        rows = [json.loads(line) for line in download(s, job)[1].splitlines()]
        texts = psql(url, "SELECT coalesce(json_agg(t ORDER BY id), '[]') FROM hard")
        check([r["t"] for r in rows] == json.loads(texts), "jsonl's texts differ from the table's")

    def test_gzip_decompresses_to_the_export(self):
        """`gzip -dc` of each gzip export is what psql writes for the same selection and options (COPY, or
        row_to_json for jsonl): a reference the server has no part in. Every body selects rows."""
        s, url = self.s, self.url
        default = {"delimiter": ",", "header": True, "null": "", "forceQuote": False, "bom": False}
        cases = [({}, reference_csv(url, ALL, default)),
                 ({"format": "jsonl"}, reference_jsonl(url, ALL)),
                 ({"csv": {"delimiter": ";", "bom": True, "forceQuote": True}},
                  reference_csv(url, ALL, dict(default, delimiter=";", bom=True, forceQuote=True))),
                 ({"filters": {"id": {"gt": 30}}}, reference_csv(url, ALL, default, "id > 30")),
                 ({"filters": {"id": {"gt": 30}}, "csv": {"header": False}},
                  reference_csv(url, ALL, dict(default, header=False), "id > 30"))]
        for body, expected in cases:
            check(expected.count(b"\n") >= 20, f"{body}: the reference holds too few rows: {expected[:200]!r}")
            packed = s.create(dict(body, compression="gzip"))
            st = s.wait_completed(packed, WAIT)
            headers, got = download(s, packed)
            ext = ".jsonl.gz" if body.get("format") == "jsonl" else ".csv.gz"
            check(headers["Content-Type"] == "application/gzip", f"Content-Type {headers['Content-Type']}")
            check(headers["Content-Disposition"] == f'attachment; filename="export-{packed}{ext}"',
                  f"Content-Disposition {headers['Content-Disposition']}")
            check(st["bytesWritten"] == len(got), f"bytesWritten {st['bytesWritten']} but the file has {len(got)}")
            out = subprocess.run(["gzip", "-dc"], input=got, capture_output=True, check=True).stdout
            check(out == expected, f"{body}: gzip -dc differs from psql's:\n"
                                   f"  got {out[:300]!r}\n  expected {expected[:300]!r}")
            check(gzip.decompress(got) == expected, f"{body}: Python's gzip reads it otherwise")
            where = "id > 30" if "filters" in body else "true"
            rows = int(psql(url, f"SELECT count(*) FROM hard WHERE {where}").decode())
            check(st["rowsExported"] == rows, f"{body}: rowsExported {st['rowsExported']}, the selection has {rows}")
            check(len(got) < len(expected) or len(expected) < 2000, f"{body}: not compressed")

    def test_bad_options_are_400(self):
        s = self.s
        jobs_before = len(s.jobs())
        cases = [
            ({"format": "xml"}, "format"),
            ({"compression": "zip"}, "compression"),
            ({"csv": {"delimiter": ";;"}}, "one-byte"),
            ({"csv": {"delimiter": "\""}}, "quote"),
            ({"csv": {"delimiter": "\n"}}, "newline"),
            ({"csv": {"delimiter": "5"}}, "digit"),
            ({"csv": {"null": "a,b"}}, "delimiter"),
            ({"csv": {"null": "x\ny"}}, "newline"),
            ({"csv": {"null": "\\."}}, "end-of-data"),
            ({"csv": {"header": "yes"}}, "header"),
            ({"csv": {"separator": ";"}}, "separator"),
            ({"format": "jsonl", "csv": {"bom": True}}, "csv"),
        ]
        for body, says in cases:
            r = s.request("POST", "/api/export", body)
            check(r.status == 400, f"{body}: expected 400, got {r!r}")
            err = r.json()["error"]
            check(err["code"] == "invalid_request" and says in err["message"], f"{body}: {err}")
        check(len(s.jobs()) == jobs_before, "a refused request made a job")


class servers_of_their_own(formats_case):
    def test_jsonl_keeps_a_json_columns_line_breaks(self):
        """row_to_json keeps a json value's own whitespace, line breaks too; COPY quotes such a value and the
        engine takes the quotes off, so the file is still exactly row_to_json's text."""
        url = self.url
        psql(url, """CREATE TABLE docs (id bigint PRIMARY KEY, doc json, note text);
                     INSERT INTO docs VALUES (1, E'{"a":\\n  [1,\\r\\n 2]}', 'x'), (2, '{"b": "\\\\n"}', NULL),
                                             (3, 'null', E'a\\nb');""")
        with server(BINARY, url, "--table", "docs", "--chunk-rows", "2") as s:
            job = s.create({"format": "jsonl"})
            s.wait_completed(job, WAIT)
            got = download(s, job)[1]
            expected = reference_jsonl(url, ["id", "doc", "note"], table="docs")
            check(got == expected, f"docs: got {got!r}, expected {expected!r}")

    def test_gzip_resumes_after_kill(self):
        """SIGKILL while the gate holds the job after some chunks were checkpointed; a new server takes the job
        over (its lease ran out), truncates to the checkpoint's compressed bytes and goes on with new members."""
        url = self.url
        install_gate(url, view="hard_gated", table="hard", open_below=30)
        for body in ({"compression": "gzip", "csv": {"bom": True, "delimiter": "|"}},
                     {"compression": "gzip", "format": "jsonl"}):
            data_dir = tempfile.mkdtemp(prefix="pgexport-formats-")
            args = ("--table", "hard_gated:id", "--chunk-rows", CHUNK, "--lease", "1s")
            with held_gate(url) as gate, server(BINARY, url, *args, data_dir=data_dir) as first:
                job = first.create(body)
                gate.wait_for_waiters(1, WAIT)
                checkpoint = wait_until("a checkpoint before the gate", lambda: int(psql(
                    url, f"SELECT bytes_written FROM export_jobs WHERE id = '{job}'").decode().strip() or 0), WAIT)
                first.kill()
                part = [f for f in os.listdir(data_dir) if f.startswith(job)]
                check(part and not any(f.endswith(".csv") for f in part), f"files at the kill: {part}")
            check(checkpoint > 0, "no checkpoint before the kill")
            with server(BINARY, url, *args, data_dir=data_dir) as second:
                st = second.wait_completed(job, WAIT)
                check(st["bytesWritten"] >= checkpoint, f"{st} after a checkpoint of {checkpoint} bytes")
                got = download(second, job)[1]
            out = subprocess.run(["gzip", "-dc"], input=got, capture_output=True, check=True).stdout
            if body.get("format") == "jsonl":
                expected = reference_jsonl(url, ALL)
            else:
                expected = reference_csv(url, ALL, {"delimiter": "|", "header": True, "null": "", "forceQuote": False,
                                                    "bom": True})
            shutil.rmtree(data_dir, ignore_errors=True)
            check(out == expected, f"{body}: after kill -9 and resume, gzip -dc differs:\n"
                                   f"  got {out[:300]!r}\n  expected {expected[:300]!r}")


if __name__ == "__main__":
    main()
