"""Shared by tests/package/*.py: the harness (tests/harness.py) on the path, and running a command whose
failure carries its output."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def run(cmd, timeout=900, **kw):
    """Runs cmd; on failure raises with its output, so that the test's log says what broke."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p
