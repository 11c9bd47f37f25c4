"""The WAL appended through a shared mapping (lsmdb/_core/walmap.pyx): a process that dies
without closing leaves preallocated zeros after its last record, and recovery in every
wal_recovery mode reads every write with no torn tail and no corruption reported; a closed
segment ends at its last record; a file that cannot be mapped falls back to write(2)."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import lsmdb
from lsmdb import wal as walmod
from lsmdb._core.logformat import LogReader
from lsmdb._core.walmap import WINDOW_BYTES
from lsmdb.env import Env, WritableFile
from lsmdb.wal.dump import dump_log
from lsmdb.wal.reader import RECOVERY_MODES

# Values of 300 KiB make records that cross the 1 MiB windows of the mapping.
CHILD = textwrap.dedent("""
    import os, sys
    import lsmdb
    db = lsmdb.open(sys.argv[1], wal_sync=sys.argv[2])
    for i in range(400):
        db.put(b"k%04d" % i, b"v%d" % i)
        if i % 40 == 0:
            db.put(b"big%04d" % i, bytes([i % 251]) * (300 << 10))
        if i % 7 == 0:
            db.delete(b"k%04d" % (i // 2))
    with db.write_batch() as wb:
        for i in range(50):
            wb.put(b"b%03d" % i, b"batch")
    db.put(b"last", b"write")
    print(db._wal.path, db._wal.tail.log.offset, flush=True)
    os._exit(0)  # no close: the segment keeps its preallocated zeros
""")


def expected_items():
    items = {}
    for i in range(400):
        items[b"k%04d" % i] = b"v%d" % i
        if i % 40 == 0:
            items[b"big%04d" % i] = bytes([i % 251]) * (300 << 10)
        if i % 7 == 0:
            items.pop(b"k%04d" % (i // 2), None)
    for i in range(50):
        items[b"b%03d" % i] = b"batch"
    items[b"last"] = b"write"
    return items


@pytest.mark.parametrize("wal_sync", ["never", "always"])
def test_a_dead_writer_leaves_zeros_that_every_recovery_mode_reads_as_the_end(tmp_path,
                                                                              wal_sync):
    src = str(tmp_path / "db")
    out = subprocess.run([sys.executable, "-c", CHILD, src, wal_sync], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    path, end = out.stdout.split()
    end = int(end)
    size = os.path.getsize(path)
    assert size % WINDOW_BYTES == 0 and size > end  # preallocated, zeros after the end
    with open(path, "rb") as f:
        assert not any(f.read()[end:])
    expected = expected_items()
    for mode in RECOVERY_MODES:
        copy = str(tmp_path / mode)
        shutil.copytree(src, copy)
        with lsmdb.open(copy, wal_recovery=mode) as db:
            report = db.recovery_report
            assert not report["torn_tail"] and not report["corruptions"], (mode, report)
            assert dict(db.items()) == expected, mode
    # The dump tool reads the same: every record, then the preallocated zeros.
    lines = []

    class Out:
        def write(self, s):
            lines.append(s)

    assert dump_log(path, out=Out()) == 0
    text = "".join(lines)
    assert f"preallocated zeros from offset {end}" in text and "torn tail" not in text


def test_a_closed_segment_ends_at_its_last_record(tmp_path):
    db = lsmdb.open(tmp_path / "db")
    assert db._wal.mapped is not None
    for i in range(1000):
        db.put(b"%d" % i, b"x" * 100)
    path, end = db._wal.path, db._wal.tail.log.offset
    assert os.path.getsize(path) > end
    db.close()
    assert os.path.getsize(path) == end
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert again.count() == 1000


def test_a_rotated_segment_is_cut_to_its_records_too(tmp_path):
    db = lsmdb.open(tmp_path / "db", memtable_bytes=1 << 20, wal_keep_segments=100)
    first = db._wal.path
    for i in range(20000):
        db.put(b"%06d" % i, b"y" * 100)
    assert db._wal.path != first
    segments = walmod.list_segments(db.env, db.path)
    assert len(segments) > 2
    for n in segments[:-1]:  # closed by rotation
        with open(walmod.segment_path(db.path, n), "rb") as f:
            reader = LogReader(f.read(), zero_tail_is_end=True)
        assert reader.read_all()
        assert reader.zero_tail_offset is None and reader.tail_error is None
    db.close()


class _WriteOnlyEnv(Env):
    """Opens writable files write-only: a plain WritableFile whose descriptor cannot be
    mapped (as on a file system without mmap)."""

    def open_writable(self, path):
        f = super().open_writable(path)
        os.close(f._fd)
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        return WritableFile(path, fd, 0)


def test_a_file_that_cannot_be_mapped_falls_back_to_write(tmp_path):
    db = lsmdb.open(tmp_path / "db", env=_WriteOnlyEnv())
    assert db._wal.mapped is None and db._wal.direct  # the one-op path, with write(2)
    for i in range(500):
        db.put(b"%d" % i, b"z" * 50)
    path = db._wal.path
    assert os.path.getsize(path) == db._wal.tail.log.offset  # nothing preallocated
    db.close()
    with lsmdb.open(tmp_path / "db", wal_recovery="absolute_consistency") as again:
        assert again.count() == 500


def test_mmap_wal_writes_false_appends_with_write(tmp_path):
    db = lsmdb.open(tmp_path / "db", mmap_wal_writes=False)
    assert db._wal.mapped is None and db._wal.direct
    for i in range(300):
        db.put(b"%d" % i, b"w" * 70)
    assert os.path.getsize(db._wal.path) == db._wal.tail.log.offset  # nothing preallocated
    db.close()
    with lsmdb.open(tmp_path / "db", mmap_wal_writes=True) as again:
        assert again._wal.mapped is not None
        assert again.count() == 300


def test_dump_reads_a_segment_of_preallocated_zeros_as_an_empty_log(tmp_path):
    path = tmp_path / "000007.log"
    path.write_bytes(bytes(WINDOW_BYTES))  # created, then the writer died before a record
    lines = []

    class Out:
        def write(self, s):
            lines.append(s)

    assert dump_log(str(path), out=Out()) == 0
    text = "".join(lines)
    assert "0 records" in text and "preallocated zeros from offset 0" in text
