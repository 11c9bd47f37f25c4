"""lsmdb/lsm/unlisted_tables.py: which unlisted tables an open keeps, which hold writes
recovery found nowhere else, and salvaging them (the end-to-end cases are in
tests/crash/test_manifest_loss.py)."""

from __future__ import annotations

import os

import pytest

import lsmdb
from lsmdb._core.ikey import DELETE, PUT, make_internal_key
from lsmdb._core.memtable import Memtable
from lsmdb.env import default_env
from lsmdb.errors import CorruptionError
from lsmdb.lsm.table_cache import table_path
from lsmdb.lsm.unlisted_tables import (
    UnlistedTable,
    find_unlisted_tables,
    read_table_meta,
    salvage,
)
from lsmdb.lsm.version_edit import FileMetaData
from lsmdb.sstable import build_sstable
from lsmdb.wal.reader import ReplayedSequences

ENV = default_env()


def _meta(min_seqno: int, max_seqno: int, entries: int = 1) -> FileMetaData:
    return FileMetaData(7, 100, b"a" + bytes(8), b"z" + bytes(8), min_seqno, max_seqno, entries)


def _replayed(first: int, count: int) -> ReplayedSequences:
    r = ReplayedSequences()
    r.add(first, count)
    return r


def test_unrecovered_writes_are_those_above_the_listed_tables_not_replayed():
    t = UnlistedTable(7, _meta(101, 200), protected=True)
    assert t.unrecovered(100, ReplayedSequences()) == (101, 200)
    assert t.unrecovered(100, _replayed(101, 100)) is None  # its WAL was replayed
    assert t.unrecovered(100, _replayed(101, 50)) == (101, 200)  # only part of it
    assert t.unrecovered(200, ReplayedSequences()) is None  # older than the listed tables
    merged = UnlistedTable(7, _meta(5, 150), protected=False)  # a compaction output
    assert merged.unrecovered(100, ReplayedSequences()) == (101, 150)
    assert merged.unrecovered(100, _replayed(90, 100)) is None
    assert UnlistedTable(7, None, True).unrecovered(0, ReplayedSequences()) is None
    assert UnlistedTable(7, _meta(0, 0, 0), True).unrecovered(0, ReplayedSequences()) is None


def _one_table_db(path: str) -> int:
    with lsmdb.open(path) as db:
        for i in range(50):
            db.put(b"k%03d" % i, b"v%03d" % i)
        db.delete(b"k007")
        db.delete_range(b"k020", b"k030")
        db.flush()
        ((_, meta),) = db._versions.current.files()
        return meta


def test_table_meta_is_read_from_the_table_itself(tmp_path):
    path = str(tmp_path / "db")
    listed = _one_table_db(path)
    meta = read_table_meta(ENV, path, listed.number)
    for field in ("number", "size", "smallest", "largest", "min_seqno", "max_seqno",
                  "entries", "deletions", "range_deletions", "raw_bytes"):
        assert getattr(meta, field) == getattr(listed, field), field
    half = table_path(path, listed.number)
    os.truncate(half, listed.size // 2)  # a crash mid-write: no footer
    assert read_table_meta(ENV, path, listed.number) is None


def test_only_tables_the_manifest_cannot_prove_obsolete_are_protected(tmp_path):
    path = str(tmp_path / "db")
    listed = _one_table_db(path)
    sst = os.path.dirname(table_path(path, listed.number))
    for n in (3, 40, 41):
        with open(table_path(path, n), "wb") as f:
            f.write(b"partial")
    os.utime(table_path(path, 3), ns=(10**9, 10**9))
    os.utime(table_path(path, 41), ns=(10**9, 10**9))
    on_disk = {int(n[:-4]) for n in os.listdir(sst)}
    found = find_unlisted_tables(ENV, path, {listed.number}, on_disk,
                                 manifest_next_file_number=41, manifest_mtime_ns=2 * 10**9)
    assert [(t.number, t.protected, t.meta) for t in found] == [
        (3, False, None),  # older than the MANIFEST, numbered below its next file number
        (40, True, None),  # newer than the MANIFEST
        (41, True, None),  # numbered at the MANIFEST's next file number
    ]


def test_salvage_adds_only_writes_newer_than_the_listed_tables_and_not_replayed(tmp_path):
    path = str(tmp_path / "db")
    listed = _one_table_db(path)  # sequences 1..52: 50 puts, a delete, a range delete
    mem = Memtable()
    last = salvage(ENV, path, [listed], mem, listed_max=40, replayed=_replayed(45, 3))
    assert last == 52
    it = mem.iterator()
    it.seek_to_first()
    seqs = []
    while it.valid():
        key = it.key()
        seq_type = int.from_bytes(key[-8:], "little")
        seqs.append((key[:-8], seq_type >> 8, seq_type & 0xFF))
        it.next()
    expected = [(b"k%03d" % (s - 1), s, PUT) for s in range(41, 51) if s not in (45, 46, 47)]
    expected.append((b"k007", 51, DELETE))
    assert sorted(seqs) == sorted(expected)
    assert mem.range_tombstones() == [(b"k020", b"k030", 52)]


def test_salvage_refuses_a_table_with_zeroed_seqnos(tmp_path):
    # A bottommost compaction output (Compaction.zero_bottom_seqnos) no longer knows where
    # its zeroed entries stood among the lost writes: salvaging it could order them wrongly.
    dbdir = str(tmp_path)
    os.makedirs(os.path.join(dbdir, "sst"))
    entries = [(make_internal_key(b"a", 150, PUT), b"new"),
               (make_internal_key(b"b", 120, PUT), b"zeroed")]
    props = build_sstable(table_path(dbdir, 7), entries, zero_seqnos_upto=130)
    assert props["zeroed_seqnos"] == 1 and props["min_seqno"] == 120
    meta = read_table_meta(ENV, dbdir, 7)
    assert meta.min_seqno == 120 and meta.max_seqno == 150
    with pytest.raises(CorruptionError, match="zeroed; it cannot be salvaged"):
        salvage(ENV, dbdir, [meta], Memtable(), 100, ReplayedSequences())
