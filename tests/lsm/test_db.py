import os
import subprocess
import sys
import threading

import pytest

import lsmdb
from lsmdb.errors import (
    ClosedError,
    ContractError,
    FeatureNotSupportedError,
    InvalidArgumentError,
    LockError,
)
from lsmdb.testing.presets import small_options


@pytest.fixture
def db(tmp_path):
    d = lsmdb.open(tmp_path / "db", small_options())
    yield d
    d.close()


def test_put_get_delete_mapping_protocol(db):
    db[b"a"] = b"1"
    db.put(b"b", b"2")
    assert db[b"a"] == b"1"
    assert db.get(b"b") == b"2"
    assert db.get(b"zz") is None
    assert db.get(b"zz", b"d") == b"d"
    assert b"a" in db and b"zz" not in db
    del db[b"a"]
    assert b"a" not in db
    with pytest.raises(KeyError):
        db[b"a"]
    db.delete(b"never-existed")
    db[b""] = b"empty key"
    assert db[b""] == b"empty key"
    db[bytearray(b"buf")] = memoryview(b"val")
    assert db[b"buf"] == b"val"


def test_wrong_types_name_the_argument(db):
    with pytest.raises(TypeError, match="key"):
        db.put("str", b"v")
    with pytest.raises(TypeError, match="value"):
        db.put(b"k", 12)
    with pytest.raises(TypeError, match="key"):
        db.get(3)


def test_oversize_rejected_and_nothing_applied(tmp_path):
    with lsmdb.open(tmp_path / "d", small_options(max_key_bytes=16, max_value_bytes=32)) as d:
        with pytest.raises(InvalidArgumentError):
            d.put(b"k" * 17, b"v")
        with pytest.raises(InvalidArgumentError):
            d.put(b"k", b"v" * 33)
        with pytest.raises(InvalidArgumentError):
            with d.write_batch() as wb:
                wb.put(b"ok", b"1")
                wb.put(b"bad", b"v" * 33)
        assert d.get(b"ok") is None


def test_write_batch_atomic_and_discarded_on_exception(db):
    with db.write_batch() as wb:
        wb.put(b"x", b"1")
        wb.put(b"y", b"2")
        wb.delete(b"x")
    assert db.get(b"x") is None and db[b"y"] == b"2"
    with pytest.raises(RuntimeError):
        with db.write_batch() as wb:
            wb.put(b"z", b"3")
            raise RuntimeError("boom")
    assert db.get(b"z") is None
    with pytest.raises(ClosedError):
        wb.put(b"late", b"1")


def test_delete_range_across_memtable_and_tables(db):
    for i in range(200):
        db.put(b"k%04d" % i, b"v%d" % i)
    db.flush()
    db.delete_range(b"k0050", b"k0150")
    assert db.get(b"k0049") == b"v49"
    assert db.get(b"k0050") is None
    assert db.get(b"k0149") is None
    assert db.get(b"k0150") == b"v150"
    db.put(b"k0100", b"new")
    assert db.get(b"k0100") == b"new"
    keys = [k for k, _ in db.items()]
    assert len(keys) == 101
    db.flush()
    db.compact_range()
    assert db.get(b"k0100") == b"new" and db.get(b"k0099") is None
    assert db.count() == 101


def test_snapshot_sees_old_state_across_flush_and_compaction(db):
    for i in range(100):
        db.put(b"k%03d" % i, b"old")
    snap = db.snapshot()
    for i in range(100):
        db.put(b"k%03d" % i, b"new")
    db.delete(b"k005")
    db.flush()
    db.compact_range()
    assert snap.get(b"k005") == b"old"
    assert all(v == b"old" for _, v in snap.items())
    assert db.get(b"k005") is None
    assert db.get(b"k006") == b"new"
    snap.close()
    with pytest.raises(ClosedError):
        snap.get(b"k001")


def test_iterators_bounds_prefix_reverse_seek(db):
    keys = [b"a1", b"a2", b"b1", b"b2", b"c1"]
    for k in keys:
        db[k] = k.upper()
    assert [k for k, _ in db.items()] == keys
    assert [k for k, _ in db.items(reverse=True)] == keys[::-1]
    assert [k for k, _ in db.items(start=b"a2", stop=b"c1")] == [b"a2", b"b1", b"b2"]
    assert [k for k, _ in db.items(prefix=b"b")] == [b"b1", b"b2"]
    assert [k for k, _ in db.items(prefix=b"b", reverse=True)] == [b"b2", b"b1"]
    it = db.iterator()
    it.seek(b"b")
    assert it.key() == b"b1" and it.value() == b"B1"
    it.seek_for_prev(b"b")
    assert it.key() == b"a2"
    it.seek_to_first()
    assert next(it) == (b"a1", b"A1")
    assert next(it) == (b"a2", b"A2")
    assert list(db.keys()) == keys
    assert list(db) == keys


def test_iterator_stays_valid_across_flush_and_compaction(db):
    for i in range(300):
        db.put(b"k%04d" % i, b"v" * 50)
    it = db.iterator()
    first = [next(it) for _ in range(10)]
    for i in range(300):
        db.put(b"k%04d" % i, b"w" * 50)
    db.flush()
    db.compact_range()
    rest = list(it)
    assert len(first) + len(rest) == 300
    assert all(v == b"v" * 50 for _, v in first + rest)


def test_one_iterator_serves_seeks_across_writes_flushes_and_compactions(db):
    import bisect
    import itertools
    import random

    rnd = random.Random(7)
    for i in range(2000):
        db.put(b"k%05d" % i, b"v%d" % i)
    db.flush()
    db.compact_range()
    frozen = sorted((k, v) for k, v in db.items())
    keys = [k for k, _ in frozen]
    it = db.iterator()
    assert len(db._versions.current.runs(db._versions.current.num_levels - 1)[0]) > 3
    for round_ in range(6):
        for _ in range(40):
            target = b"k%05d" % rnd.randrange(2100) + rnd.choice([b"", b"x"])
            it.seek(target)
            at = bisect.bisect_left(keys, target)
            assert list(itertools.islice(it, 5)) == frozen[at:at + 5]
            it.seek_for_prev(target)
            at = bisect.bisect_right(keys, target)
            assert (it.key() if it.valid() else None) == (keys[at - 1] if at else None)
        # The DB moves on under the iterator; the iterator keeps its view.
        for i in range(round_, 2000, 7):
            db.put(b"k%05d" % i, b"new")
        db.delete_range(b"k%05d" % (300 * round_), b"k%05d" % (300 * round_ + 100))
        db.flush()
        if round_ % 2:
            db.compact_range()
    it.seek(b"k00100")
    assert it.item() == frozen[100]
    fresh = db.iterator()
    fresh.seek(b"k00000")
    assert fresh.valid() and fresh.key() != b"k00000"     # range-deleted since
    fresh.close()
    it.close()
    with pytest.raises(ClosedError):
        it.seek(b"k00100")


def test_iterator_seek_takes_any_bytes_like_key_and_rejects_str(db):
    for i in range(20):
        db.put(b"k%02d" % i, b"v")
    it = db.iterator()
    for key in (b"k05", bytearray(b"k05"), memoryview(b"xk05")[1:]):
        it.seek(key)
        assert it.key() == b"k05"
        it.seek_for_prev(key)
        assert it.key() == b"k05"
    for bad in ("k05", 5, None):
        with pytest.raises(TypeError):
            it.seek(bad)
        with pytest.raises(TypeError):
            it.seek_for_prev(bad)
    assert it.key() == b"k05"                              # a rejected seek moves nothing
    db.close()
    with pytest.raises(ClosedError):
        it.seek(b"k01")
    with pytest.raises(ClosedError):
        it.seek_for_prev(b"k01")


def test_reopen_recovers_wal_and_tables(tmp_path):
    path = tmp_path / "db"
    with lsmdb.open(path, small_options()) as d:
        for i in range(500):
            d.put(b"k%04d" % i, b"%d" % i)
        d.delete_range(b"k0100", b"k0200")
    with lsmdb.open(path) as d:
        assert d.get(b"k0099") == b"99"
        assert d.get(b"k0150") is None
        assert d.count() == 400
        assert d.recovery_report["records_replayed"] >= 0


def test_unsynced_process_kill_keeps_written_records(tmp_path):
    code = (
        "import lsmdb, os\n"
        f"d = lsmdb.open({str(tmp_path / 'db')!r})\n"
        "for i in range(1000): d.put(b'k%d' % i, b'v')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with lsmdb.open(tmp_path / "db") as d:
        assert d.count() == 1000


def test_second_writer_gets_lock_error(tmp_path):
    path = tmp_path / "db"
    with lsmdb.open(path):
        with pytest.raises(LockError):
            lsmdb.open(path)
        code = f"import lsmdb\nlsmdb.open({str(path)!r})\n"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode != 0 and "LockError" in proc.stderr


def test_read_only_open(tmp_path):
    path = tmp_path / "db"
    with lsmdb.open(path) as d:
        d.put(b"a", b"1")
    with lsmdb.open(path, read_only=True) as r:
        assert r.get(b"a") == b"1"
        with pytest.raises(FeatureNotSupportedError):
            r.put(b"b", b"2")
    with pytest.raises(InvalidArgumentError):
        lsmdb.open(tmp_path / "missing", read_only=True)


def test_use_after_close(tmp_path):
    d = lsmdb.open(tmp_path / "db")
    it = d.iterator()
    d.close()
    for call in (lambda: d.get(b"a"), lambda: d.put(b"a", b"b"), lambda: d.flush(),
                 lambda: d.snapshot(), lambda: d.stats(), lambda: it.seek(b"a")):
        with pytest.raises(ClosedError):
            call()
    d.close()  # idempotent


def test_not_a_database_directory(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("hello")
    with pytest.raises(ContractError):
        lsmdb.open(tmp_path / "junk")
    with pytest.raises(InvalidArgumentError):
        lsmdb.open(tmp_path / "nope", create=False)


def test_checkpoint_is_openable(tmp_path, db):
    for i in range(300):
        db.put(b"k%04d" % i, b"v%d" % i)
    db.flush()
    db.put(b"after-flush", b"x")
    db.checkpoint(tmp_path / "cp")
    db.put(b"after-checkpoint", b"y")
    with lsmdb.open(tmp_path / "cp") as cp:
        assert cp.count() == 301
        assert cp.get(b"after-flush") == b"x"
        assert cp.get(b"after-checkpoint") is None
    with pytest.raises(InvalidArgumentError):
        db.checkpoint(tmp_path / "cp")


def test_concurrent_writers_group_commit(tmp_path):
    with lsmdb.open(tmp_path / "db", small_options(wal_sync="always")) as d:
        def work(t):
            for i in range(200):
                d.put(b"t%d-%04d" % (t, i), b"v" * 20)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert d.count() == 800
        s = d.stats()
        assert s.user_writes == 800
        assert s.write_groups <= 800


def test_compaction_happens_and_stats_report_it(tmp_path):
    with lsmdb.open(tmp_path / "db", small_options()) as d:
        for round_ in range(4):
            for i in range(2000):
                d.put(b"k%05d" % ((i * 7919) % 2000), b"r%d-" % round_ + b"x" * 40)
        d.flush()
        d.compact_range()
        s = d.stats()
        assert s.compactions > 0 and s.flushes > 0
        assert s.write_amp > 1.0
        assert sum(lv.files for lv in s.levels) >= 1
        assert d.count() == 2000
        assert all(v.startswith(b"r3-") for v in d.values())
        text = s.table()
        assert "Level" in text and "Sum" in text
        exact = d.stats(exact=True)
        assert exact.space_amp is not None and exact.space_amp > 0
        files = os.listdir(tmp_path / "db" / "sst")
        assert len(files) == sum(lv.files for lv in s.levels)


def test_empty_range_delete_in_a_batch_survives_flush_and_reopen(tmp_path):
    # Found by fuzz/fuzz_db_api.py: a batch range delete with start >= end once made the
    # flush write an empty SSTable whose MANIFEST entry could not be read back.
    path = tmp_path / "db"
    with lsmdb.open(path, small_options()) as d:
        d.put(b"a", b"1")
        d.flush()
        with d.write_batch() as wb:  # a memtable holding nothing but empty ranges
            wb.delete_range(b"k", b"k")
            wb.delete_range(b"m", b"m")
        d.flush()
        d.compact_range()
    with lsmdb.open(path, small_options()) as d:
        assert d.get(b"a") == b"1"
        assert d.count() == 1
