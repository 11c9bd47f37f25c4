"""Read-only opens beside a writer process see a consistent point-in-time view and never
report corruption for a race (issue 12, item 2; SPEC §1).

A writer subprocess puts, flushes and compacts with 16 KiB memtables, so tables, WAL
segments and MANIFEST records are replaced many times a second. The test process makes
many fresh read-only opens, each reading some keys; every open must succeed (or, if the
writer outran every retry, give BusyError, which this load never reaches) and read the
right values. One read-only DB opened at the start stays readable after compactions delete
the tables it lists.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

import lsmdb
from lsmdb._core.logformat import LogWriter
from lsmdb.env import Env
from lsmdb.errors import BusyError, CorruptionError
from lsmdb.lsm.version_edit import VersionEdit

OPENS = 60
FIXED = 200  # keys written once before the readers start, never changed
BURST = 1500  # writer puts per read-only open


def _fixed(i: int) -> tuple[bytes, bytes]:
    return b"fixed%03d" % i, b"F%03d" % i


def _writer(path: str) -> None:
    """For each line on stdin, a burst of BURST puts (with explicit flushes every 700 puts
    and a full compaction every 3000, besides the automatic ones); EOF ends it. Bursts
    keep the writer busy while the test opens, and bound its work (and so the MANIFEST
    each open reads) by the number of opens, whatever the machine's speed."""
    from lsmdb.testing.presets import small_options

    rng = random.Random(12)
    with lsmdb.open(path, small_options()) as db:
        for i in range(FIXED):
            db.put(*_fixed(i))
        db.flush()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        i = 0
        for _ in sys.stdin:
            for _ in range(BURST):
                key = b"k%05d" % rng.randrange(5000)
                db.put(key, key + b"-%d" % i + b"." * rng.randrange(40))
                i += 1
                if i % 700 == 0:
                    db.flush()
                if i % 3000 == 0:
                    db.compact_range()


def _check_values(items) -> None:
    for k, v in items:
        if k.startswith(b"fixed"):
            assert v == b"F" + k[5:], (k, v)
        else:
            assert v.startswith(k + b"-"), (k, v)


def test_fresh_read_only_opens_beside_a_writer_report_no_false_errors(scratch):
    path = os.path.join(scratch, "db")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(lsmdb.__file__)))
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--writer", path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline() == "ready\n"
        early = lsmdb.open(path, read_only=True)
        assert early.get(b"fixed000") == b"F000"  # opens one table; the rest at the end
        errors = []
        rng = random.Random(5)
        for n in range(OPENS):
            proc.stdin.write("burst\n")
            proc.stdin.flush()
            try:
                with lsmdb.open(path, read_only=True) as db:
                    for i in rng.sample(range(FIXED), 10):
                        key, value = _fixed(i)
                        assert db.get(key) == value, (n, key)
                    lo = b"k%05d" % rng.randrange(5000)
                    _check_values(db.items(start=lo, stop=lo[:-2] + b"zz"))
            except lsmdb.Error as exc:
                errors.append(f"open {n}: {type(exc).__name__}: {exc}")
        proc.stdin.close()
        assert proc.wait(300) == 0
        assert errors == []
        # The early view: its tables were compacted away and deleted meanwhile.
        items = list(early.items())
        _check_values(items)
        assert sum(1 for k, _ in items if k.startswith(b"fixed")) == FIXED
        early.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _db_with_a_missing_table(path: str) -> None:
    from lsmdb.testing.presets import small_options

    with lsmdb.open(path, small_options()) as db:
        for i in range(2000):
            db.put(b"k%05d" % i, b"v" * 20)
        db.flush()
    sst = os.path.join(path, "sst")
    os.remove(os.path.join(sst, sorted(os.listdir(sst))[0]))


def test_a_missing_table_that_reads_the_same_twice_is_corruption(scratch):
    path = os.path.join(scratch, "db")
    _db_with_a_missing_table(path)
    with pytest.raises(CorruptionError, match="MANIFEST lists missing table"):
        lsmdb.open(path, read_only=True)


class _EverGrowingManifest(Env):
    """Each read of the MANIFEST first appends one more record, as a writer that never
    stops would: the view never settles."""

    def read_file(self, path: str) -> bytes:
        if os.path.basename(path).startswith("MANIFEST-"):
            f = self.open_appendable(path)
            try:
                LogWriter(f, f.size).add_record(VersionEdit().encode())
            finally:
                f.close()
        return super().read_file(path)


def test_a_view_that_never_settles_gives_busy_error_not_corruption(scratch):
    path = os.path.join(scratch, "db")
    _db_with_a_missing_table(path)
    with pytest.raises(BusyError, match="a writer kept deleting"):
        lsmdb.open(path, read_only=True, env=_EverGrowingManifest())


if __name__ == "__main__" and sys.argv[1:2] == ["--writer"]:
    _writer(sys.argv[2])
