"""Compaction.zero_bottom_seqnos: a compaction into the bottommost level writes the seqno of
each PUT no live snapshot predates as 0 (RocksDB's PrepareOutput). Every read, at every live
snapshot, answers as before; range tombstones still cover what they covered; recovery and
new writes after a reopen are unaffected; the tables' min/max_seqno keep the originals."""

from __future__ import annotations

import glob
import os

import lsmdb
from lsmdb.options import Compaction
from lsmdb.sstable import open_sstable
from lsmdb.testing.presets import small_options


def _tables(path):
    """(properties, [(user_key, seqno)]) of every table of the store."""
    out = []
    for f in sorted(glob.glob(os.path.join(str(path), "sst", "*.sst"))):
        with open_sstable(f) as reader:
            it = reader.iterator()
            it.seek_to_first()
            keys = [(k[:-8], int.from_bytes(k[-8:], "little") >> 8) for k, _ in it.entries()]
            out.append((reader.properties, keys))
    return out


def _seqnos(path) -> dict[bytes, list[int]]:
    out: dict[bytes, list[int]] = {}
    for _, keys in _tables(path):
        for uk, seq in keys:
            out.setdefault(uk, []).append(seq)
    return out


def _open(path, zero=True):
    opts = small_options()
    if not zero:
        opts = opts.replace(compaction=opts.compaction.replace(zero_bottom_seqnos=False))
    return lsmdb.open(path, opts, inline_background=True)


def test_default_is_on():
    assert Compaction().zero_bottom_seqnos is True


def test_full_compaction_zeroes_every_put_and_reads_are_unchanged(tmp_path):
    path = tmp_path / "db"
    with _open(path) as db:
        for i in range(3000):
            db.put(b"k%05d" % (i % 1000), b"v%d" % i)
        db.delete(b"k00007")
        db.compact_range()
        seqs = _seqnos(path)
        assert seqs and all(s == [0] for s in seqs.values())
        assert b"k00007" not in seqs                      # the delete went at the bottom
        props = [p for p, _ in _tables(path)]
        # (earlier bottommost compactions zeroed some already; a table counts its own)
        assert 0 < sum(p.get("zeroed_seqnos", 0) for p in props) <= 999
        assert max(p["max_seqno"] for p in props) == db.last_sequence
        for i in range(1000):
            want = None if i == 7 else b"v%d" % (2000 + i)
            assert db.get(b"k%05d" % i) == want
        last = db.last_sequence
    with _open(path) as db:
        assert db.last_sequence == last
        db.put(b"k00001", b"new")
        db.compact_range()
        assert db.get(b"k00001") == b"new"
        assert db.get(b"k00002") == b"v2002"


def test_versions_a_live_snapshot_needs_keep_their_seqnos(tmp_path):
    path = tmp_path / "db"
    with _open(path) as db:
        db.put(b"a", b"a1")
        db.put(b"b", b"b1")
        db.put(b"c", b"c1")
        db.flush()
        snap = db.snapshot()
        db.put(b"a", b"a2")                   # newer than the snapshot
        db.delete_range(b"b", b"c")           # covers b1 for readers after the snapshot
        db.flush()
        db.compact_range()                    # two overlapping tables: merged at the bottom
        seqs = _seqnos(path)
        assert seqs[b"a"][0] > snap.seqno and seqs[b"a"][1] == 0
        assert seqs[b"b"] == [0] and seqs[b"c"] == [0]   # under the snapshot: zeroed
        assert db.get(b"a") == b"a2" and db.get(b"b") is None and db.get(b"c") == b"c1"
        assert db.get(b"a", snapshot=snap) == b"a1"
        assert db.get(b"b", snapshot=snap) == b"b1"
        assert dict(db.items(snapshot=snap)) == {b"a": b"a1", b"b": b"b1", b"c": b"c1"}
        assert dict(db.items()) == {b"a": b"a2", b"c": b"c1"}
        snap.close()
        db.put(b"c", b"c2")
        db.flush()
        db.compact_range()                    # no snapshot: one zeroed version per key
        assert _seqnos(path) == {b"a": [0], b"c": [0]}
        assert dict(db.items()) == {b"a": b"a2", b"c": b"c2"}


def test_off_keeps_every_seqno(tmp_path):
    path = tmp_path / "db"
    with _open(path, zero=False) as db:
        for i in range(500):
            db.put(b"k%04d" % i, b"v")
        db.compact_range()
    seqs = _seqnos(path)
    assert len(seqs) == 500 and all(s[0] > 0 for s in seqs.values())
    assert all("zeroed_seqnos" not in p for p, _ in _tables(path))


def test_only_bottommost_outputs_are_zeroed(tmp_path):
    # Data above older data of the same keys keeps its seqnos: a compaction that is not
    # bottommost must not make a newer version look older than what lies below it.
    path = tmp_path / "db"
    with _open(path) as db:
        for i in range(2000):
            db.put(b"k%05d" % i, b"old")
        db.compact_range()
        for i in range(0, 2000, 3):
            db.put(b"k%05d" % i, b"new")
        db.flush()
        tables = _tables(path)
        assert any(seq > 0 for _, keys in tables for _, seq in keys)
        for i in range(2000):
            assert db.get(b"k%05d" % i) == (b"new" if i % 3 == 0 else b"old")


def test_max_seqno_of_the_tables_survives_rewriting_zeroed_entries(tmp_path):
    # Recovery bounds the writes the listed tables hold by their largest max_seqno
    # (lsm/unlisted_tables.py). Rewriting entries already zeroed must not lower it.
    path = tmp_path / "db"
    with _open(path) as db:
        for i in range(1000):
            db.put(b"k%05d" % (i * 7 % 1000), b"v")   # overlapping flushes: merged
        db.compact_range()
        assert all(seq == 0 for _, keys in _tables(path) for _, seq in keys)
        assert max(p["max_seqno"] for p, _ in _tables(path)) == db.last_sequence == 1000
        db.put(b"k00001", b"w")
        db.delete(b"k00001")
        db.compact_range()          # every entry it writes was zeroed before
        tables = _tables(path)
        assert all(seq == 0 for _, keys in tables for _, seq in keys)
        assert max(p["max_seqno"] for p, _ in tables) == db.last_sequence == 1002
        last = db.last_sequence
    with _open(path) as db:
        assert db.last_sequence == last and db.get(b"k00001") is None
        assert db.get(b"k00002") == b"v"
