#!/usr/bin/env python3
"""The Debian package of the server, built from BUILD_DIR by tools/package:

    PGEXPORT_TEST_DATABASE_URL=... python3 tests/package/deb.py BUILD_DIR

checks pgexport_<version>_amd64.deb with dpkg-deb (control fields, declared runtime dependencies, the
conffile, the maintainer scripts, the files), unpacks it with `dpkg -x` into a temporary root where the
packaged binary prints its version and serves against the test cluster (/healthz 200 with the version, one
export byte-identical to PostgreSQL's COPY), and has `systemd-analyze verify` check the unit, next to a
check of the keys the unit must carry. Nothing is installed on the machine.
"""

import configparser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from package_support import run  # noqa: E402 (also puts the harness on the path)
from harness import ROOT, call, check, copy_csv, main, scratch_database, server, wait_until  # noqa: E402

UNIT = "lib/systemd/system/pgexport.service"


def control_fields(deb):
    fields = {}
    for line in run(["dpkg-deb", "-f", deb]).stdout.splitlines():
        if ":" in line and not line.startswith(" "):
            name, value = line.split(":", 1)
            fields[name] = value.strip()
    return fields


def unit_keys(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd's keys are case-sensitive
    with open(path) as f:
        parser.read_file(f)
    return parser


class deb_package(unittest.TestCase):
    """tools/package's .deb of BUILD_DIR, unpacked (dpkg -x) and its control files extracted (dpkg -e)."""

    @classmethod
    def setUpClass(cls):
        build_dir = os.path.abspath(sys.argv[1])
        cls.version = run([os.path.join(build_dir, "pgexport"), "--version"]).stdout.split()[1]
        work = tempfile.mkdtemp(prefix="pgexport-deb-")
        cls.addClassCleanup(shutil.rmtree, work, ignore_errors=True)
        started = time.monotonic()
        cls.deb = run([os.path.join(ROOT, "tools", "package"), "--build-dir", build_dir, "--output", work]).stdout.strip()
        print(f"    {os.path.basename(cls.deb)}: {os.path.getsize(cls.deb)} bytes in {time.monotonic() - started:.1f} s")
        check(os.path.basename(cls.deb) == f"pgexport_{cls.version}_amd64.deb", f"the package's name: {cls.deb}")
        cls.root = os.path.join(work, "root")
        run(["dpkg", "-x", cls.deb, cls.root])
        cls.root_ctl = os.path.join(work, "control")
        run(["dpkg", "-e", cls.deb, cls.root_ctl])
        cls.url = cls.enterClassContext(scratch_database("package_deb"))

    def test_control(self):
        deb, version = self.deb, self.version
        f = control_fields(deb)
        check(f.get("Package") == "pgexport", f"Package: {f.get('Package')}")
        check(f.get("Version") == version, f"Version {f.get('Version')} is pgexport --version's {version}")
        check(f.get("Architecture") == "amd64", f"Architecture: {f.get('Architecture')}")
        depends = [d.strip().split(" ")[0] for d in f.get("Depends", "").split(",")]
        # What the binary links (dpkg-shlibdeps), and adduser for postinst.
        for needed in ("libpq5", "libboost-json1.81.0", "libssl3", "libc6", "libstdc++6", "adduser"):
            check(needed in depends, f"Depends declares {needed}: {f.get('Depends')}")
        info = run(["dpkg-deb", "-I", deb]).stdout
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            check(f" {script}" in info, f"control member {script}:\n{info}")

    def test_dependencies_cover_what_is_linked(self):
        """Every shared library the packaged binary links (NEEDED) belongs to a package the .deb depends on."""
        deb, root = self.deb, self.root
        depends = [d.strip().split(" ")[0] for d in control_fields(deb).get("Depends", "").split(",")]
        binary = os.path.join(root, "usr/bin/pgexport")
        needed = [line.split()[1] for line in run(["objdump", "-p", binary]).stdout.splitlines()
                  if line.strip().startswith("NEEDED")]
        check("libpq.so.5" in needed, f"the binary links libpq: {needed}")
        where, missing = {}, []
        for line in run(["ldd", binary]).stdout.splitlines():
            parts = line.split()
            if "=>" not in parts:
                continue  # linux-vdso and the dynamic loader, which ldd names without an arrow
            target = parts[parts.index("=>") + 1:]
            if target[:2] == ["not", "found"]:
                missing.append(parts[0])
            elif target and target[0].startswith("/"):
                where[parts[0]] = os.path.realpath(target[0])
        check(not missing, f"ldd finds no file for {missing}: the binary would not start")
        for name in needed:
            if name not in where:
                check(name.startswith("ld-linux"), f"{name} is NEEDED but ldd does not say where it is")
                continue  # the dynamic loader itself
            path = where[name]
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
            if not owner:  # /lib and /usr/lib are one on a merged /usr; dpkg knows one of the names
                owner = run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/", 1)]).stdout
            package = owner.split(":")[0]
            check(package in depends, f"{name} ({path}) is {package}'s, which Depends does not name: {depends}")

    def test_files(self):
        deb = self.deb
        listing = run(["dpkg-deb", "-c", deb]).stdout
        entries = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
        for path in ("/usr/bin/pgexport", "/" + UNIT, "/etc/default/pgexport", "/usr/share/doc/pgexport/README.md"):
            check(path in entries, f"{path} is in the package:\n{listing}")
        check(not any(e.startswith("/usr/include") or "libpgexport_engine" in e for e in entries),
              "the server package carries no development files")
        mode = next(line.split()[0] for line in listing.splitlines() if line.endswith("./usr/bin/pgexport"))
        check(mode == "-rwxr-xr-x", f"/usr/bin/pgexport mode {mode}")
        # The settings may hold the database's password: not for every user (postinst makes it root:pgexport).
        mode = next(line.split()[0] for line in listing.splitlines() if line.endswith("./etc/default/pgexport"))
        check(mode == "-rw-r-----", f"/etc/default/pgexport mode {mode}")

    def test_maintainer_scripts(self):
        root_ctl = self.root_ctl
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(root_ctl, script)
            check(os.access(path, os.X_OK), f"{script} is executable")
            run(["sh", "-n", path])
        with open(os.path.join(root_ctl, "postinst")) as f:
            postinst = f.read()
        check("adduser --system" in postinst and "pgexport" in postinst, "postinst creates the system user")
        check("chown root:pgexport /etc/default/pgexport" in postinst and "chmod 0640 /etc/default/pgexport" in postinst,
              "postinst gives the settings file to the group pgexport, mode 0640")
        with open(os.path.join(root_ctl, "prerm")) as f:
            check("systemctl stop pgexport.service" in f.read(), "prerm stops the service")
        with open(os.path.join(root_ctl, "conffiles")) as f:
            check(f.read().split() == ["/etc/default/pgexport"], "the settings file is the conffile")
        # postinst run for real against stand-ins of getent and adduser that record their calls: it creates
        # the user when getent does not know it, and leaves an existing one alone.
        with tempfile.TemporaryDirectory(prefix="pgexport-postinst-") as d:
            calls = os.path.join(d, "calls")
            for tool, status in (("getent", "${GETENT_STATUS}"), ("adduser", "0")):
                with open(os.path.join(d, tool), "w") as f:
                    f.write(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\nexit {status}\n')
                os.chmod(os.path.join(d, tool), 0o755)
            for getent_status, expect_adduser in (("2", True), ("0", False)):
                env = dict(os.environ, PATH=f"{d}:{os.environ['PATH']}", GETENT_STATUS=getent_status)
                run(["sh", os.path.join(root_ctl, "postinst"), "configure", ""], env=env)
                with open(calls) as f:
                    log = f.read()
                os.remove(calls)
                added = [line for line in log.splitlines() if line.startswith("adduser ")]
                if expect_adduser:
                    check(len(added) == 1 and "--system" in added[0] and added[0].endswith(" pgexport"),
                          f"postinst without the user: {log}")
                else:
                    check(not added, f"postinst with the user there: {log}")

    def test_unit(self):
        root = self.root
        unit = os.path.join(root, UNIT)
        u = unit_keys(unit)
        service = u["Service"]
        expected = {"User": "pgexport", "EnvironmentFile": "/etc/default/pgexport", "StateDirectory": "pgexport",
                    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                    "Restart": "on-failure"}
        for key, value in expected.items():
            check(service.get(key) == value, f"[Service] {key}={service.get(key)}, expected {value}")
        check(service["ExecStart"].startswith("/usr/bin/pgexport serve "), f"ExecStart={service['ExecStart']}")
        check("$PGEXPORT_OPTS" in service["ExecStart"], "ExecStart takes its flags from the settings file")
        check(u["Install"].get("WantedBy") == "multi-user.target", "WantedBy=multi-user.target")
        # systemd's own check, on a copy whose ExecStart names the unpacked binary (none is installed here).
        with tempfile.TemporaryDirectory(prefix="pgexport-unit-") as d:
            with open(unit) as f:
                text = f.read().replace("/usr/bin/pgexport", os.path.join(root, "usr/bin/pgexport"))
            copy = os.path.join(d, "pgexport.service")
            with open(copy, "w") as f:
                f.write(text)
            p = subprocess.run(["systemd-analyze", "verify", "--man=no", copy], capture_output=True, text=True,
                               timeout=120)
            # verify also reports problems of other units on this machine; only this unit's lines count.
            ours = [line for line in (p.stdout + p.stderr).splitlines() if "pgexport" in line]
            check(p.returncode == 0 and not ours, f"systemd-analyze verify (exit {p.returncode}):\n{p.stdout}{p.stderr}")

    def test_settings_file(self):
        root = self.root
        with open(os.path.join(root, "etc/default/pgexport")) as f:
            text = f.read()
        settings = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
        for key in ("DATABASE_URL", "PGEXPORT_LISTEN", "PGEXPORT_DATA_DIR", "PGEXPORT_OPTS"):
            check(key in settings, f"/etc/default/pgexport sets {key}")
        check(settings["PGEXPORT_DATA_DIR"].startswith("/var/lib/pgexport/"), "the data directory is in StateDirectory")

    def test_packaged_binary_serves(self):
        root, version, url = self.root, self.version, self.url
        binary = os.path.join(root, "usr/bin/pgexport")
        check(run([binary, "--version"]).stdout.strip() == f"pgexport {version}", "the packaged --version")
        run([binary, "seed", "--database", url, "--rows", "2000"])
        with server(binary, url, "--min-free-disk", "0") as s:
            with urllib.request.urlopen(s.base + "/healthz", timeout=10) as r:
                body = json.loads(r.read())
                check(r.status == 200 and body.get("version") == version, f"/healthz: {r.status} {body}")
            status, body = call(s.base, "/api/export", "POST",
                                '{"filters": {"status": "paid"}, "columns": ["id", "name", "created_at", "amount"]}')
            check(status == 202, f"POST /api/export: {status} {body}")
            job = body["jobId"]
            final = wait_until("the export ends", lambda: (lambda st: st if st["status"] not in ("queued", "running")
                                                             else None)(call(s.base, f"/api/export/{job}/status")[1]), 120)
            check(final["status"] == "completed", f"the export: {final}")
            with urllib.request.urlopen(s.base + final["downloadUrl"], timeout=30) as r:
                got = r.read()
        expected = copy_csv(url, "SELECT id, name, created_at, amount FROM records WHERE status = 'paid' ORDER BY id")
        check(got == expected and len(expected) > 1000, f"the download: {len(got)} bytes, COPY gives {len(expected)}")


if __name__ == "__main__":
    main()
