"""lsmdb/lsm/db.py, Options.wal_keep_segments: the newest N obsolete WAL segments stay on disk
(flush, compaction and open alike), are never replayed, and stay readable by wal-dump."""

import io
import os

import pytest

import lsmdb
from lsmdb.options import InvalidOptionsError, Options
from lsmdb.testing.presets import small_options
from lsmdb.wal.dump import dump_log


def _segments(path) -> list[int]:
    return sorted(int(n[:-4]) for n in os.listdir(os.path.join(path, "wal"))
                  if n.endswith(".log"))


def _flushes(db, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        db.put(b"k%03d" % i, b"v%d" % i)
        db.flush()
        db.delete_obsolete_files()


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_flush_keeps_the_newest_obsolete_segments(tmp_path, keep):
    path = str(tmp_path / "db")
    with lsmdb.open(path, small_options(wal_keep_segments=keep)) as db:
        seen: list[int] = []
        for i in range(6):
            before = _segments(path)
            _flushes(db, 1, i)
            seen.extend(n for n in before if n not in seen)
            after = _segments(path)
            live = after[-1]  # the new memtable's segment
            assert live not in seen
            assert after[:-1] == seen[max(0, len(seen) - keep):]


def test_kept_segments_are_never_replayed(tmp_path):
    """Replay starts at the MANIFEST's log_number: the kept segments' writes are in SSTables
    already (here compacted, the deleted key's put and tombstone both dropped)."""
    path = str(tmp_path / "db")
    opts = small_options(wal_keep_segments=5)
    with lsmdb.open(path, opts) as db:
        db.put(b"gone", b"old")
        db.put(b"over", b"v1")
        db.flush()
        db.delete(b"gone")
        db.put(b"over", b"v2")
        db.delete_range(b"r0", b"r9")
        db.flush()
        db.compact_range()
        db.put(b"tail", b"in the live segment")
        kept = _segments(path)[:-1]
        assert len(kept) >= 2
    for tail_records in (1, 0):  # the first open flushes the tail: a third kept segment
        with lsmdb.open(path, opts) as db:
            assert dict(db.items()) == {b"over": b"v2", b"tail": b"in the live segment"}
            replayed = [s["number"] for s in db.recovery_report["segments"]]
            assert not set(replayed) & set(kept)
            assert db.recovery_report["records_replayed"] == tail_records
            assert set(kept) <= set(_segments(path))  # open deletes none of them either


def test_open_trims_to_a_smaller_retention_and_keeps_the_data(tmp_path):
    path = str(tmp_path / "db")
    with lsmdb.open(path, small_options(wal_keep_segments=4)) as db:
        _flushes(db, 5)
        assert len(_segments(path)) == 5
    with lsmdb.open(path, small_options(wal_keep_segments=1)) as db:
        assert len(_segments(path)) == 2  # one kept, one live
        assert dict(db.items()) == {b"k%03d" % i: b"v%d" % i for i in range(5)}
    with lsmdb.open(path, small_options()) as db:  # back to 0: only the live segment
        assert len(_segments(path)) == 1
        assert len(db) == 5


def test_the_stored_options_keep_the_retention(tmp_path):
    path = str(tmp_path / "db")
    with lsmdb.open(path, small_options(wal_keep_segments=2)) as db:
        _flushes(db, 3)
    with lsmdb.open(path) as db:  # no options: the OPTIONS file's
        assert db.options.wal_keep_segments == 2
        assert len(_segments(path)) == 3


def test_wal_dump_reads_a_kept_segment(tmp_path):
    path = str(tmp_path / "db")
    with lsmdb.open(path, small_options(wal_keep_segments=1)) as db:
        db.put(b"dumped-key", b"dumped-value")
        db.delete(b"other")
        db.flush()
        db.delete_obsolete_files()
        kept = _segments(path)[0]
    out = io.StringIO()
    assert dump_log(os.path.join(path, "wal", f"{kept:06d}.log"), out, kind="wal") == 0
    text = out.getvalue()
    assert "dumped-key" in text and "DELETE" in text


@pytest.mark.parametrize("bad", [-1, 2**32, 1.0, "3", None, True])
def test_bad_retention_is_refused(bad):
    with pytest.raises(InvalidOptionsError, match="wal_keep_segments"):
        Options(wal_keep_segments=bad)


def test_retention_round_trips_as_json():
    o = Options(wal_keep_segments=7)
    assert Options.from_json(o.to_json()) == o
    assert Options().wal_keep_segments == 0
