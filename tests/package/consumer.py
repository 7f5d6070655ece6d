#!/usr/bin/env python3
"""The installed package, as an embedding program sees it:

    PGEXPORT_TEST_DATABASE_URL=... python3 tests/package/consumer.py BUILD_DIR

installs BUILD_DIR with `cmake --install --prefix <tmp>`, checks what landed there (libraries, soname,
public headers only, the CMake package, pgexport.pc, the executable), builds tests/consumer with
find_package(pgexport) against that prefix, once on the shared library and once on the static one, and
compiles it once more with nothing but `pkg-config --cflags --libs pgexport`. Each build runs one small
export with the embedding API; its file must be byte-identical to PostgreSQL's own COPY, and the engine's
events must have reached the program's log sink (none on stderr). Nothing is fetched from the network.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from package_support import run  # noqa: E402 (also puts the harness on the path)
from harness import ROOT, check, copy_csv, main, scratch_database, seed  # noqa: E402

REQUEST = '{"filters": {"category": ["books", "toys"]}, "columns": ["id", "category", "amount", "description"]}'
REFERENCE = "SELECT id, category, amount, description FROM records WHERE category IN ('books', 'toys') ORDER BY id"


class installed_tree:
    """BUILD_DIR installed under a temporary prefix, removed afterwards."""

    def __init__(self, build_dir):
        self.build_dir = build_dir
        self.prefix = tempfile.mkdtemp(prefix="pgexport-install-")
        run(["cmake", "--install", build_dir, "--prefix", self.prefix])
        self.libdir = os.path.dirname(glob.glob(os.path.join(self.prefix, "lib*", "**", "libpgexport_engine.a"),
                                                recursive=True)[0])

    def close(self):
        shutil.rmtree(self.prefix, ignore_errors=True)


def version(build_dir):
    out = run([os.path.join(build_dir, "pgexport"), "--version"]).stdout.split()
    check(out[0] == "pgexport" and len(out) == 2, f"pgexport --version: {out}")
    return out[1]


def export_with(binary, url, work):
    """Runs the consumer once; checks its file against COPY and its events; returns the events."""
    data_dir = os.path.join(work, "exports")
    p = subprocess.run([binary, url, data_dir, REQUEST], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"{binary} exited {p.returncode}: {p.stderr[-2000:]}")
    lines = p.stdout.splitlines()
    with open(lines[0], "rb") as f:
        got = f.read()
    expected = copy_csv(url, REFERENCE)
    check(got == expected, f"{lines[0]}: {len(got)} bytes, COPY gives {len(expected)}")
    check(len(expected) > 1000, "the reference export is not trivially small")
    events = [line.split()[2] for line in lines[1:]]
    check("job_completed" in events, f"job_completed did not reach the log sink: {events}")
    check('"event"' not in p.stderr, f"the default sink wrote to stderr besides the program's: {p.stderr[:500]}")
    return events


def build_consumer(tree, work, static):
    build = os.path.join(work, "static" if static else "shared")
    run(["cmake", "-S", os.path.join(ROOT, "tests", "consumer"), "-B", build, "-DCMAKE_BUILD_TYPE=Release",
         f"-DCMAKE_PREFIX_PATH={tree.prefix}", f"-Dpgexport_USE_STATIC_LIBS={'ON' if static else 'OFF'}"])
    run(["cmake", "--build", build])
    return os.path.join(build, "consumer")


class installed_package(unittest.TestCase):
    """BUILD_DIR installed under a temporary prefix, and a scratch database with 3,000 rows."""

    @classmethod
    def setUpClass(cls):
        cls.build_dir = os.path.abspath(sys.argv[1])
        cls.tree = installed_tree(cls.build_dir)
        cls.addClassCleanup(cls.tree.close)
        cls.url = cls.enterClassContext(scratch_database("package_consumer"))
        seed(os.path.join(cls.build_dir, "pgexport"), cls.url, 3000)

    def test_the_installed_files(self):
        tree, build_dir = self.tree, self.build_dir
        v = version(build_dir)
        p = tree.prefix
        lib = tree.libdir
        check(os.access(os.path.join(p, "bin", "pgexport"), os.X_OK), "bin/pgexport is installed")
        major, minor, _ = v.split(".")
        soname = f"libpgexport_engine.so.{major}.{minor}" if major == "0" else f"libpgexport_engine.so.{major}"
        check(os.path.islink(os.path.join(lib, "libpgexport_engine.so")), "the development symlink .so")
        check(os.path.exists(os.path.join(lib, f"libpgexport_engine.so.{v}")), f"libpgexport_engine.so.{v}")
        dynamic = run(["objdump", "-p", os.path.join(lib, f"libpgexport_engine.so.{v}")]).stdout
        check(f"SONAME               {soname}" in dynamic, f"soname {soname}: {dynamic[:600]}")
        check("libpq.so.5" in dynamic, "the shared library needs libpq.so.5")
        headers = sorted(os.path.relpath(h, os.path.join(p, "include"))
                         for h in glob.glob(os.path.join(p, "include", "**", "*"), recursive=True) if os.path.isfile(h))
        sources = sorted(os.path.relpath(h, os.path.join(ROOT, "engine", "include"))
                         for h in glob.glob(os.path.join(ROOT, "engine", "include", "pgexport", "*.hpp")))
        check(headers == sources, f"installed headers {headers} are exactly engine/include's {sources}")
        check("pgexport/seed.hpp" not in headers, "the demo seeder is not part of the engine's API")
        for f in ("pgexportConfig.cmake", "pgexportConfigVersion.cmake", "pgexportTargets.cmake"):
            check(os.path.exists(os.path.join(lib, "cmake", "pgexport", f)), f"lib/cmake/pgexport/{f}")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(lib, "pkgconfig"))
        check(run(["pkg-config", "--modversion", "pgexport"], env=env).stdout.strip() == v, "pgexport.pc's version")

    def test_find_package_shared(self):
        tree, url = self.tree, self.url
        with tempfile.TemporaryDirectory(prefix="pgexport-consumer-") as work:
            binary = build_consumer(tree, work, static=False)
            needed = run(["ldd", binary]).stdout
            check(os.path.join(tree.libdir, "libpgexport_engine.so") in needed,
                  f"the consumer loads the installed shared library:\n{needed}")
            export_with(binary, url, work)

    def test_find_package_static(self):
        tree, url = self.tree, self.url
        with tempfile.TemporaryDirectory(prefix="pgexport-consumer-") as work:
            binary = build_consumer(tree, work, static=True)
            needed = run(["ldd", binary]).stdout
            check("libpgexport_engine" not in needed, f"the static build does not load the shared library:\n{needed}")
            export_with(binary, url, work)

    def test_pkg_config(self):
        tree, url = self.tree, self.url
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(tree.libdir, "pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "pgexport"], env=env).stdout.split()
        with tempfile.TemporaryDirectory(prefix="pgexport-pkgconfig-") as work:
            binary = os.path.join(work, "consumer")
            run(["g++", "-O1", os.path.join(ROOT, "tests", "consumer", "main.cpp"), "-o", binary, *flags,
                 f"-Wl,-rpath,{tree.libdir}"])
            export_with(binary, url, work)


if __name__ == "__main__":
    main()
