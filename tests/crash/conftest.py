"""Shared pieces of the crash suite: a tally of injected faults, crashes and kills, printed
at the end of the run (also without ``-s``), and scratch directories on tmpfs.

Each trial of the fault-injection sweeps runs a few thousand writes through many flushes;
on a disk-backed /tmp every fsync costs milliseconds, so trials run in /dev/shm when it
exists. FaultInjectionEnv models power loss itself, so the real fsync buys nothing here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter

import pytest

TALLY: Counter = Counter()  # e.g. "fault:write", "crash trials", "kills"


def scratch_root() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@pytest.fixture
def scratch():
    """A fresh directory (tmpfs when available), removed afterwards."""
    path = tempfile.mkdtemp(prefix="lsmdb-crash-", dir=scratch_root())
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tally() -> Counter:
    return TALLY


def pytest_terminal_summary(terminalreporter):
    if not TALLY:
        return
    terminalreporter.section("lsmdb crash suite tally")
    for name in sorted(TALLY):
        terminalreporter.write_line(f"{name:40s} {TALLY[name]}")
