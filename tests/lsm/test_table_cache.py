"""TableCache: how the DB's table readers read their files (mmap_reads) and what a table
truncated behind lsmdb's back does to a reader that has it open."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import lsmdb
from lsmdb.errors import CorruptionError
from lsmdb.testing.presets import small_options

# Writes one table, opens the DB with a cold cache, opens the table's reader (a first get),
# truncates the file to its first 512 bytes while it is open, then reads a key past the cut.
SCRIPT = textwrap.dedent("""
    import os, sys
    import lsmdb
    from lsmdb.errors import CorruptionError
    from lsmdb.testing.presets import small_options
    path, mmap_reads = sys.argv[1], sys.argv[2] == "1"
    opts = small_options(memtable_bytes=1 << 20, block_cache_bytes=0, mmap_reads=mmap_reads)
    with lsmdb.open(path, opts) as db:
        for i in range(2000):
            db.put(b"k%05d" % i, os.urandom(40))
        db.flush()
    with lsmdb.open(path, opts) as db:
        assert db.get(b"k00000") is not None
        (sst,) = [os.path.join(path, "sst", f) for f in os.listdir(os.path.join(path, "sst"))]
        os.truncate(sst, 512)
        try:
            db.get(b"k01999")
        except CorruptionError as exc:
            print("CorruptionError", exc.file == sst, exc.offset is not None)
""")


def _run(tmp_path, mmap_reads: bool) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "db"),
                           "1" if mmap_reads else "0"], capture_output=True, text=True,
                          timeout=120)


def test_pread_reads_report_a_table_truncated_while_open(tmp_path):
    res = _run(tmp_path, mmap_reads=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["CorruptionError", "True", "True"]


def test_mmap_reads_die_of_sigbus_on_a_table_truncated_while_open(tmp_path):
    # The documented price of zero-copy reads (Options.mmap_reads): lsmdb never shrinks a
    # mapped table, but a truncation from outside kills the process, as with LMDB.
    res = _run(tmp_path, mmap_reads=True)
    assert res.returncode == -signal.SIGBUS, (res.returncode, res.stdout, res.stderr)


@pytest.mark.parametrize("mmap_reads", [True, False])
def test_both_read_modes_read_the_same_and_check_block_checksums(tmp_path, mmap_reads):
    opts = small_options(block_cache_bytes=0, mmap_reads=mmap_reads)
    path = tmp_path / "db"
    with lsmdb.open(path, opts) as db:
        for i in range(500):
            db.put(b"k%04d" % i, b"v%04d" % i * 10)
        db.compact_range()
    with lsmdb.open(path, opts) as db:
        assert db.multi_get([b"k%04d" % i for i in range(500)]) == [b"v%04d" % i * 10
                                                                    for i in range(500)]
        assert sum(1 for _ in db.items()) == 500
    sst = sorted(os.path.join(path, "sst", f) for f in os.listdir(path / "sst"))[0]
    with open(sst, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with lsmdb.open(path, opts) as db, pytest.raises(CorruptionError) as info:
        for _ in db.items():
            pass
    assert info.value.file == sst and info.value.offset is not None
